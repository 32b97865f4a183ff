//! `clearway-bench [--smoke] [--rounds N] [--secs N] [--legs 1core,2threads] [--busy-polling] [--clearway PATH]
//! [--out FILE] [--png FILE]`: see `run::Options`.

fn main() {
    let opts = match clearway_bench::run::Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("clearway-bench: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = clearway_bench::run::run(&opts) {
        eprintln!("clearway-bench: {e}");
        std::process::exit(1);
    }
}
