"""Writes tests/data/malformed/weights/: small hostile weight files (.npy, .npz,
.safetensors) whose headers claim far more data than they hold, or whose
metadata is wrong. Every file must be a typed bfactor::Error, never a panic, an
abort or a huge allocation (tests/malformed_weights.rs reads them all).

Pure standard library (struct, json, zipfile): python3 scripts/gen_malformed_weights.py
"""
import json
import struct
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "malformed" / "weights"


def npy(header: str, data: bytes, version: int = 1, header_len=None) -> bytes:
    """An .npy file: magic, version, header length, header dict, data."""
    body = header.encode("latin1")
    pre = 10 if version == 1 else 12
    pad = (-(pre + len(body) + 1)) % 64
    body = body + b" " * pad + b"\n"
    n = len(body) if header_len is None else header_len
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", n) + body + data
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", n) + body + data


def dict_header(descr: str, shape: str) -> str:
    return "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)


def safetensors(header: dict, data: bytes, n=None) -> bytes:
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h) if n is None else n) + h + data


def npz(members: dict) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buf.getvalue()


def patch_sizes(zip_bytes: bytes, size: int) -> bytes:
    """Sets every entry's uncompressed size (local and central headers) to `size`."""
    b = bytearray(zip_bytes)
    i = 0
    while (i := b.find(b"PK\x03\x04", i)) >= 0:
        b[i + 22 : i + 26] = struct.pack("<I", size)
        i += 4
    i = 0
    while (i := b.find(b"PK\x01\x02", i)) >= 0:
        b[i + 24 : i + 28] = struct.pack("<I", size)
        i += 4
    return bytes(b)


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    files = {}
    # .npy: a 192-byte file whose header claims 2^40 float64s.
    files["npy_claims_2pow40_elements.npy"] = npy(dict_header("<f8", "(1099511627776,)"), b"\0" * 64)
    # .npy: the shape's element count overflows 64 bits.
    files["npy_shape_overflows.npy"] = npy(dict_header("<f8", "(4611686018427387904, 4611686018427387904)"), b"\0" * 8)
    # .npy: fewer data bytes than the shape needs.
    files["npy_truncated_data.npy"] = npy(dict_header("<f4", "(100,)"), f32([1.0] * 10))
    # .npy: a version-2 header length of ~4 GiB.
    files["npy_header_len_4gib.npy"] = npy(dict_header("<f4", "(2,)"), f32([1, 2]), version=2, header_len=0xFFFFFFF0)
    # .npy: a header nested 5000 brackets deep (a recursive parser's stack).
    files["npy_deeply_nested_header.npy"] = npy("{'descr': " + "[" * 5000 + "]" * 5000 + ", 'fortran_order': False, 'shape': (1,), }", b"\0" * 8)
    # .npz: a member whose .npy header claims 2^40 elements.
    files["npz_member_claims_2pow40_elements.npz"] = npz({
        "bfactor_module.bfactor.weight.npy": files["npy_claims_2pow40_elements.npy"],
        "bfactor_module.bfactor.bias.npy": npy(dict_header("<f4", "(3,)"), f32([0, 0, 0])),
    })
    # .npz: a member whose header length claims ~4 GiB.
    files["npz_member_header_len_4gib.npz"] = npz({"w.npy": files["npy_header_len_4gib.npy"]})
    # .npz: the zip entry claims 4 GiB uncompressed (beyond the 2 GiB cap).
    files["npz_entry_claims_4gib.npz"] = patch_sizes(
        npz({"w.npy": npy(dict_header("<f4", "(2,)"), f32([1, 2]))}), 0xFFFFFFF0
    )
    # .npz: the zip entry claims fewer bytes than the member's header needs.
    files["npz_entry_size_too_small.npz"] = patch_sizes(
        npz({"w.npy": npy(dict_header("<f4", "(2,)"), f32([1, 2]))}), 70
    )
    # .npz: a metadata member that is not UTF-8.
    files["npz_metadata_not_utf8.npz"] = npz({
        "__metadata__.npy": npy(dict_header("|u1", "(4,)"), b"\xff\xfe\x00\x01"),
        "w.npy": npy(dict_header("<f4", "(2,)"), f32([1, 2])),
    })
    # safetensors: a header length of 2^62.
    files["safetensors_header_len_2pow62.safetensors"] = safetensors(
        {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, f32([1, 2]), n=1 << 62
    )
    # safetensors: offsets far beyond the file.
    files["safetensors_offsets_beyond_file.safetensors"] = safetensors(
        {"w": {"dtype": "F64", "shape": [1 << 37], "data_offsets": [0, 1 << 40]}}, b"\0" * 16
    )
    # safetensors: a shape whose element count overflows.
    files["safetensors_shape_overflows.safetensors"] = safetensors(
        {"w": {"dtype": "F32", "shape": [1 << 62, 1 << 62], "data_offsets": [0, 8]}}, f32([1, 2])
    )
    # safetensors: Boltz-2 tensors whose metadata says they are the notebook head.
    files["safetensors_metadata_wrong_head.safetensors"] = safetensors(
        {
            "__metadata__": {"bfactor_module.bfactor.head": "BFactorHead"},
            "bfactor_module.bfactor.bias": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
            "bfactor_module.bfactor.weight": {"dtype": "F32", "shape": [3, 2], "data_offsets": [12, 36]},
        },
        f32([0] * 9),
    )
    # safetensors: the notebook head with an unparsable max_bfactor.
    files["safetensors_metadata_bad_number.safetensors"] = safetensors(
        {
            "__metadata__": {
                "bfactor_head.head": "BFactorHead",
                "bfactor_head.c_s": "2",
                "bfactor_head.num_bins": "3",
                "bfactor_head.max_bfactor": "three hundred",
                "bfactor_head.eps": "1e-5",
            },
            "bfactor_head.w1": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
            "bfactor_head.w2": {"dtype": "F32", "shape": [2, 3], "data_offsets": [16, 40]},
        },
        f32([0.5] * 10),
    )
    for name, content in sorted(files.items()):
        (OUT / name).write_bytes(content)
        print(f"{name}: {len(content)} bytes")


if __name__ == "__main__":
    main()
