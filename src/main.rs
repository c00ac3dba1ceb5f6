//! The `ssd-cam` binary: parse, run, report.

use std::process::ExitCode;

fn main() -> ExitCode {
    avoid_amx_int8();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // The command line, with --config's run-wide tables under it.
    let args = match ssd_cam::run_file::args_with_file(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(ssd_cam::run_file::Error::Clap(e)) => e.exit(),
        Err(ssd_cam::run_file::Error::File(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    ssd_runtime::source::set_max_pixels(args.max_pixels);
    if args.check_config {
        let problems = ssd_cam::app::check_config(&args);
        if problems.is_empty() {
            println!("ok");
            return ExitCode::SUCCESS;
        }
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        return ExitCode::FAILURE;
    }
    if let Some(ssd_cam::cli::Command::Inspect { model, plan }) = &args.command {
        // inspect has no source: it describes the model real sources get.
        let (model, why) = ssd_cam::default_model(model.as_deref(), None, true);
        log::info!("model {model} ({why})");
        return match ssd_cam::inspect::report(&model, *plan) {
            Ok((text, fits)) => {
                print!("{text}");
                if fits {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(ssd_cam::cli::Command::Bench {
        model,
        source,
        frames,
        warmup,
        threads,
        workers,
        engine,
        json,
        profile,
    }) = &args.command
    {
        // Like inspect: the model real sources get, on any source (the
        // figures a user compares with are for it).
        let (model, why) = ssd_cam::default_model(model.as_deref(), None, true);
        log::info!("model {model} ({why})");
        let options = ssd_cam::bench::BenchOptions {
            model,
            source: source.clone(),
            frames: *frames,
            warmup: *warmup,
            threads: *threads,
            workers: *workers,
            engine: *engine,
            profile: *profile,
        };
        return match ssd_cam::bench::run(&options) {
            Ok(report) => {
                if *json {
                    match serde_json::to_string(&report) {
                        Ok(line) => println!("{line}"),
                        Err(e) => {
                            eprintln!("error: {e}");
                            return ExitCode::FAILURE;
                        }
                    }
                } else {
                    print!("{}", report.table());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if args.list_devices {
        return match ssd_cam::app::list_devices() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let stop = ssd_cam::app::stop_on_signal("stopping: finishing frames in flight (signal again to quit at once)");
    match ssd_cam::app::run(&args, stop) {
        Ok(stats) => {
            eprintln!("{}", stats.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// tract 0.23.9's AMX int8 kernel (`avx512amx_mmm_i32_8x8`, chosen on Intel
/// CPUs with AMX, Sapphire Rapids and later) crashes with SIGSEGV when two
/// inference workers run an INT8 model at once: seen on this project's CI
/// machine in 4 of 6 runs of the INT8 shapes model on 33 images with the
/// default 2 workers, and never with `TRACT_CPU_ISA=-amx-int8`. Until that
/// is fixed upstream, INT8 runs on the VNNI kernels unless the user sets
/// `TRACT_CPU_ISA` themselves. Called first thing, before any thread exists
/// (tract reads the variable once, when it first dispatches a kernel).
fn avoid_amx_int8() {
    #[cfg(target_arch = "x86_64")]
    if std::env::var_os("TRACT_CPU_ISA").is_none() {
        std::env::set_var("TRACT_CPU_ISA", "-amx-int8");
    }
}
