//! Request bodies that must keep coming: a whole-body deadline and a minimum rate.
//!
//! The clock starts the first time the body has nothing to give (a body already in the
//! read buffer, the usual SOAP call, costs no timer at all), and is wound only while the
//! gateway waits for the client: a handler that stops reading (back-pressure from Sistema
//! TS) is not the client's fault, and answers are never timed here.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn StdError + Send + Sync>;

/// How fast a request body must arrive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// The whole body, counted from the first wait.
    pub(crate) timeout: Duration,
    /// Bytes per second on average since the first wait, once `grace` has passed (0: none).
    pub(crate) min_bytes_per_second: u64,
    /// Time before the minimum rate applies.
    pub(crate) grace: Duration,
}

impl BodyLimits {
    /// When the client is late, for a body that started waiting at `started` and has
    /// delivered `received` bytes so far.
    fn deadline(&self, started: Instant, received: u64) -> Instant {
        let whole = started + self.timeout;
        if self.min_bytes_per_second == 0 {
            return whole;
        }
        // `received` bytes are enough until `received / rate` seconds after the start.
        let earned = Duration::from_secs_f64(received as f64 / self.min_bytes_per_second as f64);
        whole.min(started + self.grace.max(earned))
    }
}

/// The error of a request body that did not arrive in time. Handlers find it in the
/// source chain of whatever error reading the body gave them ([`is_body_timeout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyTimeout {
    received: u64,
}

impl fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request body too slow: {} bytes, then the client stopped or slowed below the minimum rate",
            self.received
        )
    }
}

impl StdError for BodyTimeout {}

/// Whether `error`, or an error it wraps, is a [`BodyTimeout`].
pub(crate) fn is_body_timeout(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<BodyTimeout>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// A request body under [`BodyLimits`].
pub(crate) struct TimedBody<B> {
    inner: B,
    limits: BodyLimits,
    received: u64,
    /// Set at the first wait; the timer is boxed (tokio's `Sleep` is not `Unpin`) only then.
    clock: Option<(Instant, Pin<Box<Sleep>>)>,
    timed_out: bool,
}

impl<B: fmt::Debug> fmt::Debug for TimedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedBody")
            .field("inner", &self.inner)
            .field("received", &self.received)
            .field("timed_out", &self.timed_out)
            .finish_non_exhaustive()
    }
}

impl<B> TimedBody<B> {
    pub(crate) fn new(inner: B, limits: BodyLimits) -> Self {
        Self {
            inner,
            limits,
            received: 0,
            clock: None,
            timed_out: false,
        }
    }

    fn fail(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if !self.timed_out {
            self.timed_out = true;
            metrics::counter!("tsgate_request_body_timeouts_total").increment(1);
            tracing::debug!(received = self.received, "request body too slow");
        }
        Poll::Ready(Some(Err(Box::new(BodyTimeout {
            received: self.received,
        }))))
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.timed_out {
            return this.fail();
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let (limits, received) = (this.limits, this.received);
                let (started, timer) = this.clock.get_or_insert_with(|| {
                    let now = Instant::now();
                    (
                        now,
                        Box::pin(tokio::time::sleep_until(limits.deadline(now, 0))),
                    )
                });
                let deadline = limits.deadline(*started, received);
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                ready!(timer.as_mut().poll(cx));
                this.fail()
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt as _, StreamBody};

    fn limits(timeout_ms: u64, rate: u64, grace_ms: u64) -> BodyLimits {
        BodyLimits {
            timeout: Duration::from_millis(timeout_ms),
            min_bytes_per_second: rate,
            grace: Duration::from_millis(grace_ms),
        }
    }

    #[test]
    fn deadline_is_the_grace_then_what_the_bytes_earned_then_the_whole_timeout() {
        let start = Instant::now();
        let secs = Duration::from_secs;
        let l = limits(60_000, 100, 5_000);
        assert_eq!(l.deadline(start, 0), start + secs(5));
        assert_eq!(l.deadline(start, 400), start + secs(5));
        assert_eq!(l.deadline(start, 1000), start + secs(10));
        assert_eq!(l.deadline(start, 1_000_000), start + secs(60));
        assert_eq!(
            limits(60_000, 0, 5_000).deadline(start, 0),
            start + secs(60)
        );
    }

    type Sender = tokio::sync::mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>;

    /// A body fed by hand through `Sender`.
    fn channel() -> (
        Sender,
        impl Body<Data = Bytes, Error = std::io::Error> + Unpin,
    ) {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        (tx, StreamBody::new(Box::pin(stream)))
    }

    /// Sends `chunk` bytes every `every` until the body is dropped (or `count` times).
    fn feed(tx: Sender, chunk: usize, every: Duration, count: usize) {
        tokio::spawn(async move {
            for _ in 0..count {
                let data = Bytes::from(vec![b'x'; chunk]);
                if tx.send(Ok(Frame::data(data))).await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        });
    }

    #[tokio::test]
    async fn a_trickle_fails_once_the_grace_is_over_and_a_steady_body_passes() {
        let (tx, body) = channel();
        let mut slow = TimedBody::new(body, limits(60_000, 1000, 200));
        feed(tx, 1, Duration::from_millis(20), 1000);
        let error = loop {
            match slow.frame().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break e,
                None => panic!("the trickle was accepted"),
            }
        };
        assert!(is_body_timeout(&*error), "{error}");
        // Polled again, it stays failed.
        assert!(matches!(slow.frame().await, Some(Err(_))));

        // 1000 bytes every 20 ms is far above 1000 bytes/s.
        let (tx, body) = channel();
        feed(tx, 1000, Duration::from_millis(20), 20);
        let all = TimedBody::new(body, limits(60_000, 1000, 200))
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(all.len(), 20_000);
    }

    #[tokio::test]
    async fn the_whole_body_has_a_deadline_even_at_a_good_rate() {
        let (tx, body) = channel();
        feed(tx, 1000, Duration::from_millis(10), usize::MAX);
        let error = TimedBody::new(body, limits(300, 1, 0))
            .collect()
            .await
            .unwrap_err();
        assert!(is_body_timeout(&*error));
    }

    #[test]
    fn a_timeout_is_found_under_wrapping_errors() {
        let wrapped = axum::Error::new(Box::new(BodyTimeout { received: 3 }) as BoxError);
        assert!(is_body_timeout(&wrapped));
        assert!(!is_body_timeout(&std::io::Error::other("reset")));
    }
}
