//! The systemd unit in deploy/ is one systemd accepts, and its
//! ExecStartPre (`--check-config`) passes on an example configuration.

mod common;

use std::process::Command;

#[test]
fn systemd_accepts_the_unit_and_its_check_passes() {
    let unit = std::fs::read_to_string(common::repo_root().join("deploy/ssd-cam.service")).unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("WatchdogSec=") && unit.contains("--check-config"));
    // Issue 51, point 6: `systemctl stop` signals ssd-cam, which stops its children.
    assert!(unit.contains("\nKillMode=mixed\n"), "the unit states its KillMode");
    let have = Command::new("systemd-analyze").arg("--version").output().is_ok_and(|o| o.status.success());
    if !have {
        common::missing("systemd-analyze", "systemd-analyze is missing", "apt-get install systemd");
        return;
    }
    // The unit as installed, pointing at this build (verify checks that the
    // programs exist).
    let dir = tempfile::tempdir().unwrap();
    let bin = common::ssd_cam_bin();
    let path = dir.path().join("ssd-cam.service");
    std::fs::write(&path, unit.replace("/usr/bin/ssd-cam", bin.to_str().unwrap())).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    // Lines about other units on this machine are not this unit's problem.
    let ours: Vec<&str> = said.lines().filter(|l| l.contains("ssd-cam.service")).collect();
    assert!(out.status.success() && ours.is_empty(), "{said}");
}

#[test]
fn the_example_configuration_passes_its_check() {
    let config = common::repo_root().join("deploy/cameras.toml");
    let out = common::ssd_cam(&["--check-config", "--config", config.to_str().unwrap(), "--headless"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n", "{}", common::stderr(&out));
    // Issue 51, point 9: with its zone, and the output its comment names.
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("--check-config --config /etc/ssd-cam/cameras.toml --headless $SSD_CAM_ARGS"));
    let dir = tempfile::tempdir().unwrap();
    let zoned = dir.path().join("cameras.toml");
    std::fs::write(&zoned, text.replace("# zones = [", "zones = [")).unwrap();
    let zoned = zoned.to_str().unwrap();
    let out = common::ssd_cam(&["--check-config", "--config", zoned, "--headless", "--events"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n", "{}", common::stderr(&out));
}
