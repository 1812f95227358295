//! Caps on what devices hold open: inbox long-polls and event streams each
//! keep a connection and a task while they wait, so one device (or a stolen
//! device key) may hold [`PER_DEVICE`] at once and all devices together
//! [`TOTAL`]; the next is refused at once. A [`Slot`] is the right to one
//! open wait; dropping it (the answer sent, the stream closed) frees it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open waits one device may hold: a phone and a tablet app on one key, a
/// reconnect before the old connection noticed it was gone.
pub const PER_DEVICE: usize = 4;
/// Open waits of all devices together.
pub const TOTAL: usize = 20_000;

#[derive(Debug, Default)]
pub struct OpenWaits(Mutex<Held>);

#[derive(Debug, Default)]
struct Held {
    /// Open waits by device; a device with none has no entry.
    by_device: HashMap<String, usize>,
    total: usize,
}

/// One open wait of one device, freed on drop.
#[derive(Debug)]
pub struct Slot {
    waits: Arc<OpenWaits>,
    device: String,
}

impl OpenWaits {
    /// A slot for `device`, or `None` when it or everyone holds the most allowed.
    pub fn open(self: &Arc<Self>, device: &str) -> Option<Slot> {
        self.open_within(device, PER_DEVICE, TOTAL)
    }

    fn open_within(self: &Arc<Self>, device: &str, per_device: usize, total: usize) -> Option<Slot> {
        let mut held = self.0.lock().ok()?;
        if held.total >= total || held.by_device.get(device).is_some_and(|n| *n >= per_device) {
            return None;
        }
        held.total += 1;
        *held.by_device.entry(device.to_owned()).or_default() += 1;
        Some(Slot {
            waits: self.clone(),
            device: device.to_owned(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut held) = self.waits.0.lock() {
            held.total = held.total.saturating_sub(1);
            if let Some(n) = held.by_device.get_mut(&self.device) {
                *n -= 1;
                if *n == 0 {
                    held.by_device.remove(&self.device);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_device_and_in_total_and_freed_on_drop() {
        let waits = Arc::new(OpenWaits::default());
        let a: Vec<Slot> = (0..2).map(|_| waits.open_within("a", 2, 3).unwrap()).collect();
        assert!(waits.open_within("a", 2, 3).is_none(), "per device");
        let b = waits.open_within("b", 2, 3).unwrap();
        assert!(waits.open_within("c", 2, 3).is_none(), "in total");
        drop(b);
        assert!(waits.open_within("c", 2, 3).is_some(), "freed on drop");
        drop(a);
        let held = waits.0.lock().unwrap();
        assert!(held.by_device.is_empty() && held.total == 0, "nothing left behind");
    }
}
