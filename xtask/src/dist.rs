//! `cargo xtask dist`: the release `huggingface-cli` as an archive to hand
//! out: `target/dist/huggingface-cli-VERSION-TRIPLE/` with the binary
//! (stripped), shell completions (bash, zsh, fish, PowerShell) and man pages
//! made by the binary itself (`huggingface-cli generate`), README and
//! license; packed as `huggingface-cli-VERSION-TRIPLE.tar.gz`, with a
//! `.sha256` beside it in `sha256sum` format.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use sha2::{Digest, Sha256};

use crate::workspace::{cargo, root, run_command, stdout_of, target_dir};

const BIN: &str = "huggingface-cli";

/// The shells completed, each with the file name its completion loader looks for.
const COMPLETIONS: [(&str, &str); 4] = [
    ("bash", "huggingface-cli.bash"),
    ("zsh", "_huggingface-cli"),
    ("fish", "huggingface-cli.fish"),
    ("powershell", "_huggingface-cli.ps1"),
];

/// What goes into an archive.
pub(crate) struct DistInput {
    /// The built binary.
    pub(crate) binary: PathBuf,
    /// Whether the copy in the archive loses its debug line tables and symbols.
    pub(crate) strip: bool,
    /// Its version, as it prints it.
    pub(crate) version: String,
    /// The target triple it was built for.
    pub(crate) triple: String,
    /// The README and the license to ship beside it.
    pub(crate) documents: Vec<PathBuf>,
    /// Where the folder and the archive go.
    pub(crate) out_dir: PathBuf,
}

/// What `assemble` made.
pub(crate) struct DistArchive {
    /// The folder the archive packs.
    pub(crate) dir: PathBuf,
    /// The `.tar.gz`.
    pub(crate) archive: PathBuf,
    /// Its `.sha256`.
    pub(crate) checksum: PathBuf,
}

pub(crate) fn run() -> Result<()> {
    run_command(cargo().args(["build", "--release", "--locked", "-p", BIN]))?;
    let binary = target_dir()
        .join("release")
        .join(format!("{BIN}{}", std::env::consts::EXE_SUFFIX));
    let input = DistInput {
        version: binary_version(&binary)?,
        triple: host_triple()?,
        documents: vec![root().join("cli/README.md"), root().join("LICENSE")],
        out_dir: target_dir().join("dist"),
        binary,
        strip: true,
    };
    let dist = assemble(&input)?;
    check_archive(&dist)?;
    println!("{}", dist.archive.display());
    println!("{}", dist.checksum.display());
    Ok(())
}

/// The version the binary prints (`huggingface-cli 0.1.0`).
fn binary_version(binary: &Path) -> Result<String> {
    let out = stdout_of(Command::new(binary).arg("--version"))?;
    let out = String::from_utf8_lossy(&out);
    let version = out
        .split_whitespace()
        .nth(1)
        .with_context(|| format!("{} --version printed {out:?}", binary.display()))?;
    Ok(version.to_owned())
}

/// The host triple of the compiler (`rustc -vV`, line `host:`).
pub(crate) fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = stdout_of(Command::new(rustc).arg("-vV"))?;
    parse_host(&String::from_utf8_lossy(&out))
}

fn parse_host(rustc_vv: &str) -> Result<String> {
    rustc_vv
        .lines()
        .find_map(|line| line.strip_prefix("host:"))
        .map(|host| host.trim().to_owned())
        .context("`rustc -vV` printed no host line")
}

/// Makes the folder, the archive and its checksum.
pub(crate) fn assemble(input: &DistInput) -> Result<DistArchive> {
    let name = format!("{BIN}-{}-{}", input.version, input.triple);
    let dir = input.out_dir.join(&name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("failed to remove {}", dir.display()))?;
    }
    for sub in ["completions", "man"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).with_context(|| format!("failed to create {}", path.display()))?;
    }
    let binary_name = input.binary.file_name().context("the binary has no file name")?;
    copy(&input.binary, &dir.join(binary_name))?;
    if input.strip {
        strip(&dir.join(binary_name))?;
    }
    for document in &input.documents {
        copy(
            document,
            &dir.join(document.file_name().context("a document has no file name")?),
        )?;
    }
    for (shell, file) in COMPLETIONS {
        let script = stdout_of(Command::new(&input.binary).args(["generate", "completions", shell]))?;
        write(&dir.join("completions").join(file), &script)?;
    }
    run_command(
        Command::new(&input.binary)
            .args(["generate", "man", "--dir"])
            .arg(dir.join("man")),
    )?;

    let tar = input.out_dir.join(format!("{name}.tar"));
    let archive = input.out_dir.join(format!("{name}.tar.gz"));
    for stale in [&tar, &archive] {
        if stale.exists() {
            std::fs::remove_file(stale).with_context(|| format!("failed to remove {}", stale.display()))?;
        }
    }
    run_command(
        Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(&input.out_dir)
            .arg(&name),
    )?;
    // -n: the gzip header names no file and no time.
    run_command(Command::new("gzip").args(["-n", "-9"]).arg(&tar))?;

    let checksum = input.out_dir.join(format!("{name}.tar.gz.sha256"));
    let line = format!("{}  {name}.tar.gz\n", sha256_hex(&archive)?);
    write(&checksum, line.as_bytes())?;
    Ok(DistArchive { dir, archive, checksum })
}

/// The archive holds what it should, its checksum matches, and the binary in
/// it runs.
fn check_archive(dist: &DistArchive) -> Result<()> {
    let listed = stdout_of(Command::new("tar").arg("-tzf").arg(&dist.archive))?;
    let listed = String::from_utf8_lossy(&listed);
    let name = dist
        .dir
        .file_name()
        .context("the folder has no name")?
        .to_string_lossy();
    let mut expected = vec![
        format!("{name}/{BIN}{}", std::env::consts::EXE_SUFFIX),
        format!("{name}/README.md"),
        format!("{name}/LICENSE"),
        format!("{name}/man/{BIN}.1"),
    ];
    expected.extend(COMPLETIONS.map(|(_, file)| format!("{name}/completions/{file}")));
    for entry in &expected {
        ensure!(
            listed.lines().any(|l| l == entry),
            "{} lacks {entry}",
            dist.archive.display()
        );
    }
    let line = std::fs::read_to_string(&dist.checksum)
        .with_context(|| format!("failed to read {}", dist.checksum.display()))?;
    ensure!(
        line.split_whitespace().next() == Some(sha256_hex(&dist.archive)?.as_str()),
        "{} does not match the archive",
        dist.checksum.display()
    );
    binary_version(&dist.dir.join(format!("{BIN}{}", std::env::consts::EXE_SUFFIX)))?;
    Ok(())
}

/// Strips the binary's line tables and symbols (35 MB to 6), when `strip` is
/// there; the binary in target/release keeps them for backtraces.
fn strip(binary: &Path) -> Result<()> {
    match Command::new("strip").arg(binary).status() {
        Ok(status) => ensure!(status.success(), "`strip {}` failed with {status}", binary.display()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "no `strip` on the PATH: {} keeps its debug line tables",
                binary.display()
            );
        }
        Err(err) => return Err(err).with_context(|| format!("failed to run strip on {}", binary.display())),
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    // fs::copy keeps the permission bits: the binary stays executable.
    std::fs::copy(from, to).with_context(|| format!("failed to copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    ensure!(!bytes.is_empty(), "nothing to write to {}", path.display());
    std::fs::write(path, bytes).with_context(|| format!("failed to write {}", path.display()))
}

fn sha256_hex(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 128 * 1024];
    loop {
        let n = file
            .read(&mut buffer)
            .with_context(|| format!("failed to read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_comes_from_rustc_vv() -> Result<()> {
        let text = "rustc 1.95.0\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(parse_host(text)?, "x86_64-unknown-linux-gnu");
        assert!(parse_host("rustc 1.95.0\n").is_err());
        assert!(!host_triple()?.is_empty());
        Ok(())
    }

    /// The pieces end to end, with a stand-in for the release binary (the
    /// real one is built and checked by `cargo xtask dist`; its `generate`
    /// command is tested in the CLI).
    #[cfg(unix)]
    #[test]
    fn assemble_packs_binary_completions_man_page_and_checksum() -> Result<()> {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir()?;
        let binary = dir.path().join(BIN);
        std::fs::write(
            &binary,
            "#!/bin/sh\ncase \"$1 $2\" in\n\
             '--version ') echo 'huggingface-cli 9.8.7' ;;\n\
             'generate completions') echo \"# $3 completion for download\" ;;\n\
             'generate man') mkdir -p \"$4\" && echo '.TH huggingface-cli 1' > \"$4/huggingface-cli.1\" ;;\n\
             *) exit 2 ;;\nesac\n",
        )?;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))?;
        std::fs::write(dir.path().join("README.md"), "# readme\n")?;
        std::fs::write(dir.path().join("LICENSE"), "license\n")?;
        let input = DistInput {
            version: binary_version(&binary)?,
            triple: "x86_64-unknown-linux-gnu".to_owned(),
            documents: vec![dir.path().join("README.md"), dir.path().join("LICENSE")],
            out_dir: dir.path().join("dist"),
            binary,
            strip: false,
        };
        let dist = assemble(&input)?;
        let name = "huggingface-cli-9.8.7-x86_64-unknown-linux-gnu";
        assert_eq!(dist.archive, dir.path().join(format!("dist/{name}.tar.gz")));
        assert_eq!(dist.checksum, dir.path().join(format!("dist/{name}.tar.gz.sha256")));
        let zsh = std::fs::read_to_string(dist.dir.join("completions/_huggingface-cli"))?;
        assert_eq!(zsh, "# zsh completion for download\n");
        let page = std::fs::read_to_string(dist.dir.join("man/huggingface-cli.1"))?;
        assert!(page.starts_with(".TH"));
        let mode = std::fs::metadata(dist.dir.join(BIN))?.permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "the binary stays executable");
        check_archive(&dist)?;

        // The checksum file is what sha256sum checks.
        let check = Command::new("sha256sum")
            .arg("-c")
            .arg(dist.checksum.file_name().context("a name")?)
            .current_dir(dir.path().join("dist"))
            .output();
        if let Ok(check) = check {
            assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
        }

        // Made again over the first: what was there is replaced.
        let again = assemble(&input)?;
        check_archive(&again)?;
        Ok(())
    }
}
