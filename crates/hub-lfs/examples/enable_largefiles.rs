//! Sets a clone up so that `git push` sends files over 5 GB to the Hub in
//! parts, through a transfer agent program, and prints the clone's top folder.
//!
//! ```sh
//! cargo run -p hub-lfs --example enable_largefiles -- ./my-model-clone [AGENT]
//! ```
//!
//! `AGENT` is the program git-lfs runs as the agent with the
//! `lfs-multipart-upload` argument (default: `huggingface-cli` on the `PATH`).

#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use hub_lfs::enable_largefiles;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let clone = PathBuf::from(args.next().ok_or("usage: enable_largefiles CLONE_DIR [AGENT]")?);
    let agent = PathBuf::from(args.next().unwrap_or_else(|| "huggingface-cli".into()));
    let top = enable_largefiles(&clone, &agent)?;
    println!("large files enabled in {}", top.display());
    Ok(())
}
