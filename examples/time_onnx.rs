//! The smallest tract timing there is: one ONNX file, one input shape, the
//! optimised plan run N times, the median printed. For reproducers meant
//! for tract upstream (benches/tract_wall.py writes one-node graphs and
//! times the same files in onnxruntime).
//!
//!     cargo run --release --example time_onnx -- FILE.onnx 1,16,150,150 [RUNS] [THREADS] [WORKERS]
//!
//! With WORKERS > 1, that many threads each run their own state of the
//! plan side by side (as `ssd-cam --workers` does), and the time printed is
//! wall time per run over all of them (1 / throughput).

use std::time::Instant;

use tract_onnx::prelude::*;

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(shape)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: time_onnx FILE.onnx D0,D1,... [RUNS] [THREADS] [WORKERS]");
        std::process::exit(2);
    };
    let shape: Vec<usize> = shape.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let runs: usize = args.get(3).map_or(Ok(50), |r| r.parse())?;
    let threads: usize = args.get(4).map_or(Ok(1), |t| t.parse())?;
    let workers: usize = args.get(5).map_or(Ok(1), |w| w.parse())?;
    ssd_cam::model::set_threads(threads);
    let plan = tract_onnx::onnx()
        .model_for_path(path)?
        .with_input_fact(0, f32::fact(&shape).into())?
        .into_optimized()?
        .into_runnable()?;
    let input: TValue = Tensor::zero::<f32>(&shape)?.into();
    let plan_ops: Vec<String> = plan.model().nodes().iter().map(|n| n.op().name().to_string()).collect();
    if workers > 1 {
        let started = Instant::now();
        std::thread::scope(|scope| -> TractResult<()> {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let (plan, input) = (plan.clone(), input.clone());
                    scope.spawn(move || -> TractResult<()> {
                        let mut state = plan.spawn()?;
                        for _ in 0..runs.max(1) {
                            state.run(tvec![input.clone()])?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join().map_err(|_| anyhow::anyhow!("a worker panicked"))??;
            }
            Ok(())
        })?;
        let per_run = started.elapsed().as_secs_f64() * 1000.0 / (runs.max(1) * workers) as f64;
        println!("{path}: {per_run:.3} ms per run over {workers} workers x {threads} thread(s), {runs} runs each");
        return Ok(());
    }
    let mut state = plan.spawn()?;
    for _ in 0..5 {
        state.run(tvec![input.clone()])?;
    }
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            state.run(tvec![input.clone()]).map(|_| started.elapsed().as_secs_f64() * 1000.0)
        })
        .collect::<TractResult<_>>()?;
    times.sort_by(f64::total_cmp);
    println!(
        "{path}: {:.3} ms median of {} runs, {threads} thread(s); plan {}",
        times[times.len() / 2],
        times.len(),
        plan_ops.join(" ")
    );
    Ok(())
}
