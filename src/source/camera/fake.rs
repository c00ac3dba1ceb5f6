//! A scripted camera for tests: yields frames of any format, stalls,
//! fails mid-stream and refuses to reopen for a while.

use std::collections::VecDeque;
use std::time::Duration;

use super::*;

/// One step of the script.
#[derive(Debug, Clone)]
pub enum Step {
    /// Deliver these bytes.
    Frame(Vec<u8>),
    /// Block this long, then continue with the next step.
    Stall(Duration),
    /// Fail the read (unplugged).
    Fail,
    /// Refuse this many reopen attempts.
    RefuseOpens(u32),
}

/// The fake.
#[derive(Debug)]
pub struct FakeCamera {
    pub modes: Vec<Mode>,
    pub script: VecDeque<Step>,
    pub open_error: Option<CameraError>,
    pub refuse: u32,
    pub opens: u32,
    pub started: Vec<Mode>,
    pub open: bool,
}

impl FakeCamera {
    pub fn new(modes: Vec<Mode>, script: Vec<Step>) -> Self {
        Self { modes, script: script.into(), open_error: None, refuse: 0, opens: 0, started: vec![], open: false }
    }
}

impl Device for FakeCamera {
    fn name(&self) -> &str {
        "/dev/fake0"
    }
    fn open(&mut self) -> Result<Vec<Mode>, CameraError> {
        self.opens += 1;
        if let Some(e) = &self.open_error {
            return Err(e.clone());
        }
        if self.refuse > 0 {
            self.refuse -= 1;
            return Err(CameraError::NotFound { device: self.name().into() });
        }
        self.open = true;
        Ok(self.modes.clone())
    }
    fn start(&mut self, mode: Mode) -> Result<(), CameraError> {
        self.started.push(mode);
        Ok(())
    }
    fn read(&mut self, buf: &mut Vec<u8>) -> Result<(), CameraError> {
        assert!(self.open, "read from a closed device");
        loop {
            match self.script.pop_front() {
                Some(Step::Frame(bytes)) => {
                    buf.clear();
                    buf.extend_from_slice(&bytes);
                    return Ok(());
                }
                Some(Step::Stall(d)) => std::thread::sleep(d),
                Some(Step::Fail) => {
                    return Err(CameraError::Failed { device: self.name().into(), message: "device unplugged".into() })
                }
                Some(Step::RefuseOpens(n)) => self.refuse = n,
                // End of script: the camera is gone for good.
                None => return Err(CameraError::NotFound { device: self.name().into() }),
            }
        }
    }
    fn close(&mut self) {
        self.open = false;
    }
}
