//! nginx serving one file on a free port, the yardstick of the emulator's speed.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A running nginx, stopped when dropped.
pub(crate) struct Nginx {
    child: Child,
    pub(crate) url: String,
}

impl Nginx {
    /// Serves `file` at `/file` with `sendfile`, one process, from a config in `dir`.
    pub(crate) fn serve_file(file: &Path, dir: &Path) -> Result<Nginx> {
        std::fs::create_dir_all(dir.join("temp")).with_context(|| format!("failed to create {}", dir.display()))?;
        let port = free_port()?;
        let temp = dir.join("temp");
        let temp = temp.display();
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
                 listen 127.0.0.1:{port};\n\
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
            url: format!("http://127.0.0.1:{port}/file"),
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

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("failed to find a free port")?;
    Ok(listener.local_addr()?.port())
}
