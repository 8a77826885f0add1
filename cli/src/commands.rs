//! `bfactor plot` and `bfactor train`.

use bfactor::structure::gnm::GnmConfig;
use bfactor::structure::predict::{self, EpochReport, TrainConfig};
use bfactor::structure::{self, BColumn, BValues, FileFormat, PlddtToB, ReadOptions};

use crate::args::{PlddtToBArgs, PlotArgs, PlotModel, TrainArgs};
use crate::input::{collect, expand, Reader};
use crate::methods;
use crate::plot::{self, Kind, Series};
use crate::report::{write_atomically, Batch, Exit};

/// Runs `bfactor plot`; returns the number of failures (0 or 1).
pub fn plot(args: &PlotArgs, quiet: bool) -> Result<usize, Exit> {
    let kind = Kind::from_path(&args.output).ok_or_else(|| {
        Exit::Usage(format!(
            "the picture {} needs a name ending in .svg or .png",
            args.output.display()
        ))
    })?;
    let expanded = expand(std::slice::from_ref(&args.path))?;
    if expanded.any_directory {
        return Err(Exit::Usage(format!(
            "plot draws one structure; {} is a directory",
            args.path.display()
        )));
    }
    if expanded.any_archive {
        return Err(Exit::Usage(format!(
            "plot draws one structure; {} is a tar archive (predict, gnm and compare read archives)",
            args.path.display()
        )));
    }
    let reader = Reader::new(&args.read, &expanded.inputs)?;
    let batch = Batch::new(1, quiet);
    if let Some((path, message)) = expanded.problems.first() {
        batch.fail(path, message);
        return Ok(batch.failures());
    }
    let config = GnmConfig::new().with_cutoff(args.cutoff);
    if args.model == PlotModel::Gnm {
        config
            .validate()
            .map_err(|e| Exit::Usage(format!("--cutoff: {e}")))?;
    }
    let predictor = match args.model {
        PlotModel::Predictor => {
            Some(methods::predictor(args.weights.as_deref()).map_err(Exit::Fatal)?)
        }
        PlotModel::Gnm => None,
    };
    batch.run(&expanded.inputs, |_, input| {
        if !args.force && args.output.exists() {
            return Err(format!(
                "{} exists (use --force to overwrite it)",
                args.output.display()
            ));
        }
        let st = reader.read(input)?;
        let exp = methods::experimental(&st);
        let (predicted, label) = match &predictor {
            Some(p) => (methods::predicted(p, &st)?, "predicted".to_string()),
            None => {
                let sq = methods::gnm_fluctuations(&st, &config)?;
                let (_, fitted) = methods::gnm_fitted(&sq, &exp)?;
                (
                    fitted,
                    format!("GNM, fitted to experiment ({} Å cutoff)", args.cutoff),
                )
            }
        };
        let correlations = st
            .chains()
            .iter()
            .map(|c| methods::pearson(&predicted, &exp, c.tokens.clone()))
            .collect();
        let name = match input {
            crate::input::Input::File(p) => p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            crate::input::Input::Stdin => "standard input".into(),
            crate::input::Input::Member(m) => m.display(),
        };
        let series = Series {
            title: format!(
                "{name}: experimental and {} B-factors",
                match args.model {
                    PlotModel::Predictor => "predicted",
                    PlotModel::Gnm => "GNM",
                }
            ),
            experimental: &exp,
            predicted: &predicted,
            predicted_label: label,
            correlations,
        };
        write_atomically(&args.output, args.force, |tmp| {
            plot::draw(&st, &series, tmp, kind)
        })?;
        batch.note(&format!("wrote {}", args.output.display()));
        Ok(())
    });
    Ok(batch.failures())
}

/// Runs `bfactor train`; returns the number of failures.
pub fn train(args: &TrainArgs, quiet: bool) -> Result<usize, Exit> {
    let mut fit = TrainConfig::default_fit();
    if let Some(e) = args.epochs {
        fit = fit.with_epochs(e);
    }
    if let Some(s) = args.seed {
        fit = fit.with_seed(s);
    }
    if let Some(f) = args.validation_fraction {
        fit = fit.with_validation_fraction(f);
    }
    let config = TrainConfig::new().with_fit(fit);
    config.validate().map_err(|e| Exit::Usage(e.to_string()))?;
    if !args.force && args.output.exists() {
        return Err(Exit::Fatal(format!(
            "{} exists (use --force to overwrite it)",
            args.output.display()
        )));
    }
    let expanded = collect(&args.input)?;
    let reader = Reader::new(&args.input.read, &expanded.inputs)?;
    let batch = Batch::new(expanded.inputs.len(), quiet);
    for (path, message) in &expanded.problems {
        batch.fail(path, message);
    }
    let read: Vec<_> = batch
        .run(&expanded.inputs, |_, input| reader.read(input))
        .into_iter()
        .zip(&expanded.inputs)
        .filter_map(|(st, input)| st.map(|st| (st, input)))
        .collect();
    let any_read = !read.is_empty();
    // Predicted models hold confidence, not B-factors: never trained on.
    let structures: Vec<_> = read
        .into_iter()
        .filter_map(|(st, input)| {
            if st.provenance().is_predicted() || st.b_values() != BValues::BFactors {
                batch.note(&format!(
                    "{}: left out, a {} model holds no experimental B-factors",
                    input.display(),
                    st.provenance()
                ));
                None
            } else {
                Some(st)
            }
        })
        .collect();
    if structures.is_empty() {
        return Err(Exit::Fatal(if any_read {
            "every structure read is a predicted model: nothing to train on (train needs \
             experimental B-factors)"
                .into()
        } else {
            "no structure could be read: nothing to train on".into()
        }));
    }
    batch.note(&format!(
        "training on {} structures ({} tokens)",
        structures.len(),
        structures.iter().map(|s| s.tokens().len()).sum::<usize>()
    ));
    let mut on_epoch = |r: &EpochReport| {
        let validation = r
            .validation_pearson
            .map_or(String::new(), |p| format!(", validation Pearson r {p:.4}"));
        batch.note(&format!(
            "epoch {:>width$}/{}: training loss {:.5}{validation}",
            r.epoch,
            r.epochs,
            r.train_loss,
            width = r.epochs.to_string().len()
        ));
    };
    let predictor = predict::train(&structures, &config, &mut on_epoch)
        .map_err(|e| Exit::Fatal(format!("training failed: {e}")))?;
    write_atomically(&args.output, args.force, |tmp| {
        predictor.save(tmp).map_err(|e| e.to_string())
    })
    .map_err(Exit::Fatal)?;
    batch.note(&format!("wrote {}", args.output.display()));
    Ok(batch.failures())
}

/// Runs `bfactor plddt-to-b`; returns the number of failures (0 or 1).
pub fn plddt_to_b(args: &PlddtToBArgs, quiet: bool) -> Result<usize, Exit> {
    let config = PlddtToB::new().with_min_plddt((!args.keep_all).then_some(args.min_plddt));
    config
        .validate()
        .map_err(|e| Exit::Usage(format!("--min-plddt: {e}")))?;
    let (in_format, _) =
        FileFormat::from_path(&args.input).map_err(|e| Exit::Usage(e.to_string()))?;
    let (out_format, gz) = FileFormat::from_path(&args.output).map_err(|_| {
        Exit::Usage(format!(
            "the output {} needs a structure file name (.pdb, .ent, .cif or .mmcif, optionally \
             followed by .gz)",
            args.output.display()
        ))
    })?;
    if out_format != in_format {
        return Err(Exit::Usage(format!(
            "the output {} is not in the input's format ({}): plddt-to-b rewrites the file in \
             place, keeping every other record",
            args.output.display(),
            match in_format {
                FileFormat::Pdb => "PDB",
                FileFormat::Mmcif => "mmCIF",
            }
        )));
    }
    let batch = Batch::new(1, quiet);
    let input = crate::input::Input::File(args.input.clone());
    batch.run(std::slice::from_ref(&input), |_, _| {
        if !args.force && args.output.exists() {
            return Err(format!(
                "{} exists (use --force to overwrite it)",
                args.output.display()
            ));
        }
        let b_column = if args.assume_plddt {
            BColumn::Plddt
        } else {
            BColumn::Detect
        };
        let st = structure::read(&args.input, &ReadOptions::new().with_b_column(b_column))
            .map_err(|e| e.to_string())?;
        if st.b_values() != BValues::Plddt {
            return Err(format!(
                "the file is {}, and its B column was not read as pLDDT (--assume-plddt reads \
                 it as pLDDT)",
                st.provenance()
            ));
        }
        let text = structure::plddt_to_bfactor_text(&st, &config).map_err(|e| e.to_string())?;
        write_atomically(&args.output, args.force, |tmp| {
            let bytes = if gz {
                use std::io::Write as _;
                let mut z =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                z.write_all(text.as_bytes())
                    .and_then(|_| z.finish())
                    .map_err(|e| e.to_string())?
            } else {
                text.into_bytes()
            };
            std::fs::write(tmp, bytes).map_err(|e| e.to_string())
        })?;
        batch.note(&format!(
            "{} ({}) -> {}",
            args.input.display(),
            st.provenance(),
            args.output.display()
        ));
        Ok(())
    });
    Ok(batch.failures())
}
