//! The shutdown signal, in the two steps `tern run` stops in: first the
//! front ends stop accepting (sessions finish what they accepted and
//! unbind), then the connectors settle what they have in flight and
//! unbind upstream. Each step is a flag that only ever turns on.

use tokio::sync::watch;

/// The two steps of a shutdown. Cheap to read from any task.
pub struct Shutdown {
    front_end: watch::Sender<bool>,
    connectors: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            front_end: watch::channel(false).0,
            connectors: watch::channel(false).0,
        }
    }
}

impl Shutdown {
    /// Turns true when the front ends must stop accepting.
    pub fn front_end(&self) -> watch::Receiver<bool> {
        self.front_end.subscribe()
    }

    /// Turns true when the connectors must settle and stop.
    pub fn connectors(&self) -> watch::Receiver<bool> {
        self.connectors.subscribe()
    }

    /// Stop accepting: the first step.
    pub fn stop_front_end(&self) {
        self.front_end.send_replace(true);
    }

    /// Stop the connectors: the second step.
    pub fn stop_connectors(&self) {
        self.connectors.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_step_reaches_its_own_subscribers() {
        let s = Shutdown::default();
        let mut fe = s.front_end();
        let co = s.connectors();
        assert!(!*fe.borrow());
        s.stop_front_end();
        fe.changed().await.expect("sender alive");
        assert!(*fe.borrow());
        assert!(!*co.borrow());
        s.stop_connectors();
        assert!(*s.connectors().borrow());
    }
}
