//! Running a project tool (formatter, linter, type-checker) with input on stdin, output
//! captured, and a deadline: a tool that hangs must not hang `plan` or `apply`.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished tool printed.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Why a tool gave no output. A timeout is told apart: a caller may give up on a tool that is
/// too slow for this project rather than run it again file by file.
#[derive(Debug, Clone)]
pub struct ToolError {
    pub message: String,
    pub timed_out: bool,
}

impl From<ToolError> for String {
    fn from(error: ToolError) -> Self {
        error.message
    }
}

impl ToolError {
    fn other(message: String) -> Self {
        Self {
            message,
            timed_out: false,
        }
    }
}

/// Runs `program args` in `cwd`, feeding `stdin`, killed after `timeout`.
pub fn run_tool(
    program: &Path,
    args: &[String],
    cwd: &Path,
    stdin: Option<&str>,
    timeout: Duration,
) -> Result<ToolOutput, ToolError> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Tools that colour their output when forced would break parsing.
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0")
        .spawn()
        .map_err(|err| {
            ToolError::other(format!("could not start `{}`: {err}", program.display()))
        })?;
    // Writer and readers on their own threads, so a tool that fills its stdout pipe before
    // reading all of stdin cannot deadlock us.
    let writer = stdin.map(|text| {
        let mut pipe = child.stdin.take();
        let text = text.to_owned();
        std::thread::spawn(move || {
            if let Some(pipe) = pipe.as_mut() {
                let _ = pipe.write_all(text.as_bytes());
            }
        })
    });
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = read(child.stdout.take().map(|p| Box::new(p) as Box<_>));
    let err = read(child.stderr.take().map(|p| Box::new(p) as Box<_>));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ToolError {
                    message: format!(
                        "`{}` did not finish within {} s",
                        program.display(),
                        timeout.as_secs()
                    ),
                    timed_out: true,
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => {
                return Err(ToolError::other(format!(
                    "waiting for `{}`: {err}",
                    program.display()
                )));
            }
        }
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    Ok(ToolOutput {
        success: status.success(),
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}
