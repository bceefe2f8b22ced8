//! Crash safety: runs killed (SIGKILL) at several moments leave the
//! previous output whole and their temporary file is cleaned by the next
//! run; SIGINT, SIGTERM and SIGHUP remove it at once; an unwritable folder
//! or a full disk fails before or without harm; two runs writing the same
//! output leave one complete output; `/dev/stdout` is written through.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{cpm, data, parse_csv, tempdir};

/// A transaction file long enough that a run takes a while.
fn long_input(dir: &Path) -> PathBuf {
    let path = dir.join("long.csv");
    let mut text = String::from("order_id,customer_id,order_date,revenue\n");
    let mut state = 1u64;
    for i in 0..200_000u64 {
        // a small linear congruential generator: no dependency, same file
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let customer = (state >> 33) % 30_000;
        let month = (state >> 20) % 12 + 1;
        let day = (state >> 10) % 28 + 1;
        let cents = (state >> 40) % 100_000 + 100;
        text.push_str(&format!(
            "{i},c{customer},2024-{month:02}-{day:02},{}.{:02}\n",
            cents / 100,
            cents % 100
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// The `.tmp` files in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// Starts cpm with `args`, kills it after `after` (unless it ended), and
/// says whether it had ended by itself.
fn run_and_kill(args: &[String], after: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpm"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    false
}

/// Kills `args` (writing `output`) at fractions of a full run's time and
/// checks after each kill that `output` is the previous file or a
/// complete new one (`complete`), and that the next run leaves no
/// temporary file.
fn killed_at_several_moments(args: &[String], output: &Path, complete: fn(&[u8]) -> bool) {
    let dir = output.parent().unwrap();
    // a full run's time: the shorter of two, so that a run slowed by the
    // other tests does not push the kills past the end of the next runs
    let full = (0..2)
        .map(|_| {
            let start = Instant::now();
            assert!(run_and_kill(args, Duration::from_secs(600)));
            start.elapsed()
        })
        .min()
        .unwrap_or_default();
    assert!(complete(&std::fs::read(output).unwrap()));
    let mut killed = 0;
    for fraction in [0.05, 0.2, 0.4, 0.6, 0.75, 0.85, 0.92, 0.97] {
        std::fs::write(output, "previous output\n").unwrap();
        let ended = run_and_kill(args, full.mul_f64(fraction));
        let now = std::fs::read(output).unwrap();
        if ended {
            assert!(complete(&now), "a run that ended wrote a complete output");
        } else {
            killed += 1;
            assert!(
                now == b"previous output\n" || complete(&now),
                "killed at {fraction} of the run: the output is neither the previous one nor \
                 complete ({} bytes)",
                now.len()
            );
        }
    }
    assert!(
        killed >= 4,
        "only {killed} runs were killed before they ended"
    );
    // the next run cleans what the killed ones left
    assert!(run_and_kill(args, Duration::from_secs(600)));
    assert!(complete(&std::fs::read(output).unwrap()));
    assert_eq!(temporaries(dir), Vec::<String>::new());
}

#[test]
fn a_killed_ingest_leaves_the_previous_output() {
    let dir = tempdir();
    let input = long_input(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let output = out.join("clean.csv");
    let args: Vec<String> = ["ingest", &input.display().to_string(), "-q", "-o"]
        .iter()
        .map(|s| s.to_string())
        .chain([output.display().to_string()])
        .collect();
    killed_at_several_moments(&args, &output, |bytes| parse_csv(bytes).len() == 200_001);
}

#[test]
fn a_killed_report_leaves_the_previous_report() {
    let dir = tempdir();
    let input = long_input(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let output = out.join("report.html");
    let args: Vec<String> = [
        "report",
        &input.display().to_string(),
        "--no-model",
        "-q",
        "-o",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([output.display().to_string()])
    .collect();
    killed_at_several_moments(&args, &output, |bytes| {
        String::from_utf8_lossy(bytes)
            .trim_end()
            .ends_with("</html>")
    });
}

#[test]
fn an_unwritable_folder_fails_before_the_work() {
    // /sys takes no new files, not even from root
    let run = cpm(&["ingest", &data("orders.csv"), "-o", "/sys/cpm-out.csv"])
        .run()
        .code_is(1)
        .stderr_has(&["cannot write /sys/cpm-out.csv"]);
    assert!(
        !run.stderr().contains("rows read"),
        "nothing was read first"
    );
}

#[test]
fn a_full_disk_fails_and_keeps_the_previous_output() {
    cpm(&[
        "ingest",
        &data("cdnow_sample.csv"),
        "-q",
        "--format",
        "csv",
        "-o",
        "/dev/full",
    ])
    .run()
    .code_is(1)
    .stderr_has(&["writing /dev/full", "No space left on device"]);
    // a tiny file system, when this machine lets tests mount one
    let dir = tempdir();
    let Some(mount) = tiny_file_system(dir.path(), "64k") else {
        eprintln!("no tiny tmpfs (mount needs privileges): /dev/full only");
        return;
    };
    let output = mount.join("customers.csv");
    std::fs::write(&output, "previous output\n").unwrap();
    let run = cpm(&[
        "segment",
        &data("cdnow_sample.csv"),
        "-q",
        "-o",
        &output.display().to_string(),
    ])
    .run();
    let after = std::fs::read_to_string(&output);
    let leftovers = temporaries(&mount);
    let _ = Command::new("umount").arg(&mount).status();
    run.code_is(1)
        .stderr_has(&["customers.csv", "No space left on device"]);
    assert_eq!(after.unwrap(), "previous output\n");
    assert_eq!(leftovers, Vec::<String>::new());
}

#[test]
fn two_runs_writing_one_output_leave_one_complete_output() {
    let dir = tempdir();
    let output = dir.path().join("clean.csv");
    let expected: Vec<Vec<u8>> = ["orders.csv", "cdnow_sample.csv"]
        .iter()
        .map(|input| {
            let alone = dir.path().join(format!("alone-{input}"));
            cpm(&[
                "ingest",
                &data(input),
                "-q",
                "-o",
                &alone.display().to_string(),
            ])
            .run()
            .ok();
            std::fs::read(alone).unwrap()
        })
        .collect();
    for _ in 0..5 {
        let children: Vec<_> = ["orders.csv", "cdnow_sample.csv"]
            .iter()
            .map(|input| {
                Command::new(env!("CARGO_BIN_EXE_cpm"))
                    .args(["ingest", &data(input), "-q", "-o"])
                    .arg(&output)
                    .stdin(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success());
        }
        let written = std::fs::read(&output).unwrap();
        assert!(
            expected.contains(&written),
            "the output is one run's, whole"
        );
    }
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
}

#[test]
fn several_outputs_are_all_written_or_none() {
    // a tiny file system for the second output, when this machine lets
    // tests mount one
    let dir = tempdir();
    let Some(mount) = tiny_file_system(dir.path(), "16k") else {
        eprintln!("no tiny tmpfs (mount needs privileges): skipped");
        return;
    };
    let page = dir.path().join("report.md");
    std::fs::write(&page, "previous page\n").unwrap();
    let json = mount.join("report.json");
    let run = cpm(&[
        "report",
        &data("retail_export.csv"),
        "-q",
        "-o",
        &page.display().to_string(),
        "-o",
        &json.display().to_string(),
    ])
    .run();
    let after = std::fs::read_to_string(&page);
    // segment: the summary beside an output that does not fit
    let summary = dir.path().join("segments.csv");
    std::fs::write(&summary, "previous summary\n").unwrap();
    let segmented = cpm(&[
        "segment",
        &data("retail_export.csv"),
        "-q",
        "--summary-out",
        &summary.display().to_string(),
        "-o",
        &mount.join("customers.csv").display().to_string(),
    ])
    .run();
    let summary_after = std::fs::read_to_string(&summary);
    let leftovers = [temporaries(dir.path()), temporaries(&mount)].concat();
    let _ = Command::new("umount").arg(&mount).status();
    run.code_is(1)
        .stderr_has(&["report.json", "No space left on device"]);
    // the first output, written fine, was not put in place either
    assert_eq!(after.unwrap(), "previous page\n");
    segmented
        .code_is(1)
        .stderr_has(&["customers.csv", "No space left on device"]);
    assert_eq!(summary_after.unwrap(), "previous summary\n");
    assert_eq!(leftovers, Vec::<String>::new());
}

/// A tmpfs of `size` mounted at `dir`/tiny, when this machine lets tests
/// mount one (it needs privileges); the caller unmounts it.
fn tiny_file_system(dir: &Path, size: &str) -> Option<PathBuf> {
    let mount = dir.join("tiny");
    std::fs::create_dir(&mount).ok()?;
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(&mount)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    mounted.then_some(mount)
}

#[test]
fn a_signal_during_a_write_removes_the_temporary_file_and_keeps_the_old_output() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempdir();
    let input = long_input(dir.path());
    let output = dir.path().join("out.csv");
    // what a whole run writes: a signal may only leave this or the old file
    let whole = dir.path().join("whole.csv");
    cpm(&[
        "ingest",
        "-q",
        "-o",
        &whole.display().to_string(),
        &input.display().to_string(),
    ])
    .run()
    .ok();
    let whole = std::fs::read_to_string(&whole).unwrap();
    for (name, number) in [("INT", 2), ("TERM", 15), ("HUP", 1)] {
        // a run that finished its write before the signal came (a busy
        // machine, a fast build) proves nothing: run again, a few times
        let mut attempts = 0;
        let status = loop {
            attempts += 1;
            std::fs::write(&output, "old").unwrap();
            let mut child = Command::new(env!("CARGO_BIN_EXE_cpm"))
                .args(["ingest", "-q", "-o"])
                .args([&output, &input])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // the output is being written once its temporary file has bytes
            let writing = || {
                std::fs::read_dir(dir.path()).unwrap().any(|e| {
                    let e = e.unwrap();
                    e.file_name().to_string_lossy().ends_with(".tmp")
                        && e.metadata().is_ok_and(|m| m.len() > 0)
                })
            };
            let start = Instant::now();
            while !writing() {
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "the run ended before its output was written"
                );
                assert!(start.elapsed() < Duration::from_secs(600));
                std::thread::sleep(Duration::from_millis(1));
            }
            let sent = Command::new("kill")
                .args(["-s", name, &child.id().to_string()])
                .status()
                .unwrap();
            assert!(sent.success());
            let status = child.wait().unwrap();
            let written = std::fs::read_to_string(&output).unwrap();
            // never a half-written output: the old file, or the whole new one
            // when the signal came after it was in place
            assert!(
                written == "old" || written == whole,
                "SIG{name}: a partial output"
            );
            if (status.success() || written != "old") && attempts < 5 {
                continue;
            }
            break status;
        };
        assert_eq!(status.signal(), Some(number), "SIG{name}: {status:?}");
        assert_eq!(temporaries(dir.path()), Vec::<String>::new(), "SIG{name}");
        assert_eq!(
            std::fs::read_to_string(&output).unwrap(),
            "old",
            "SIG{name}"
        );
    }
}

#[test]
fn dev_stdout_onto_a_regular_file_is_written_through_not_replaced() {
    let dir = tempdir();
    let captured = dir.path().join("captured.csv");
    let status = Command::new(env!("CARGO_BIN_EXE_cpm"))
        .args([
            "ingest",
            &data("orders.csv"),
            "-q",
            "-f",
            "csv",
            "-o",
            "/dev/stdout",
        ])
        .stdout(std::fs::File::create(&captured).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        std::fs::symlink_metadata("/dev/stdout")
            .unwrap()
            .is_symlink()
    );
    assert_eq!(parse_csv(&std::fs::read(&captured).unwrap()).len(), 8);
}
