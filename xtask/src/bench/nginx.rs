//! nginx serving one file on a free port, over HTTP or HTTPS: the yardstick of
//! the emulator's speed.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hub_emulator::http::TlsIdentity;

/// A running nginx, stopped when dropped.
pub(crate) struct Nginx {
    child: Child,
    pub(crate) url: String,
}

impl Nginx {
    /// Serves `file` at `/file` with `sendfile`, one process, from a config in
    /// `dir`; over HTTPS with `identity` when one is given, TLS 1.3 and
    /// AES-128-GCM only: what the emulator chooses for curl.
    pub(crate) fn serve_file(file: &Path, dir: &Path, identity: Option<&TlsIdentity>) -> Result<Nginx> {
        std::fs::create_dir_all(dir.join("temp")).with_context(|| format!("failed to create {}", dir.display()))?;
        let port = free_port()?;
        let temp = dir.join("temp");
        let temp = temp.display();
        let (listen, scheme) = match identity {
            Some(identity) => (tls_directives(dir, port, identity)?, "https"),
            None => (format!("listen 127.0.0.1:{port};\n"), "http"),
        };
        let config = format!(
            "daemon off;\n\
             master_process off;\n\
             worker_processes 1;\n\
             pid {dir}/nginx.pid;\n\
             error_log {dir}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
               access_log off;\n\
               sendfile on;\n\
               tcp_nopush on;\n\
               client_body_temp_path {temp};\n\
               proxy_temp_path {temp};\n\
               fastcgi_temp_path {temp};\n\
               uwsgi_temp_path {temp};\n\
               scgi_temp_path {temp};\n\
               server {{\n\
                 {listen}\
                 location = /file {{ alias {file}; default_type application/octet-stream; }}\n\
               }}\n\
             }}\n",
            dir = dir.display(),
            file = file.display(),
        );
        let config_path = dir.join("nginx.conf");
        std::fs::write(&config_path, config).with_context(|| format!("failed to write {}", config_path.display()))?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("failed to start nginx")?;
        let mut nginx = Nginx {
            child,
            url: format!("{scheme}://127.0.0.1:{port}/file"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                bail!("nginx exited with {status}: {}", log.trim());
            }
            if Instant::now() > deadline {
                bail!("nginx did not listen on port {port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `listen` line of an HTTPS server and its TLS settings, with the
/// certificate and key written into `dir` (the key readable by its owner only).
fn tls_directives(dir: &Path, port: u16, identity: &TlsIdentity) -> Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let cert = dir.join("cert.pem");
    std::fs::write(&cert, &identity.cert_chain_pem).with_context(|| format!("failed to write {}", cert.display()))?;
    let key = dir.join("key.pem");
    let _ = std::fs::remove_file(&key);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key)
        .and_then(|mut f| f.write_all(identity.key_pem.as_bytes()))
        .with_context(|| format!("failed to write {}", key.display()))?;
    Ok(format!(
        "listen 127.0.0.1:{port} ssl;\n\
         ssl_certificate {cert};\n\
         ssl_certificate_key {key};\n\
         ssl_protocols TLSv1.3;\n\
         ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;\n",
        cert = cert.display(),
        key = key.display(),
    ))
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("failed to find a free port")?;
    Ok(listener.local_addr()?.port())
}
