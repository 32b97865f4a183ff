//! Where a head's header fields lie and how many it may have: room for httparse to find
//! them in (up to `tune.http.maxhdr`), their spans, the fields as slices of the frozen
//! head, and each thread's spare header maps, reused from one message to the next.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use std::cell::RefCell;

/// Where a header's name and value lie in a parsed head (start and end of each), so that
/// once the head is frozen the values become slices of it, not copies.
pub type Span = (u32, u32, u32, u32);

/// HAProxy's default `tune.http.maxhdr`: 101, so 100 fields (it counts the start line).
pub const MAX_HEADERS: usize = 101;

/// Room for fields beyond the limit, for those HAProxy does not count (`Semantics::uncounted`).
const UNCOUNTED_ROOM: usize = 8;

/// Room for fields kept on the stack: enough for the default limit.
const STACK_ROOM: usize = MAX_HEADERS + UNCOUNTED_ROOM;

/// The most header fields a head may have: `tune.http.maxhdr` less one (HAProxy counts the
/// start line).
static MAX_FIELDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(MAX_HEADERS - 1);

/// The most header fields a head may have now.
pub fn max_fields() -> usize {
    MAX_FIELDS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether a head with `fields` fields, `uncounted` of which HAProxy would not count, has
/// more than `tune.http.maxhdr` allows.
pub fn too_many_fields(fields: usize, uncounted: usize) -> bool {
    fields.saturating_sub(uncounted) > max_fields()
}

/// Sets `tune.http.maxhdr` (1 to 32767).
pub fn set_max_headers(maxhdr: usize) {
    MAX_FIELDS.store(maxhdr.clamp(1, 32_767) - 1, std::sync::atomic::Ordering::Relaxed);
}

/// Uninitialised room on the stack for the fields httparse finds in one head (zeroing room
/// on every head showed in profiles), declared by the caller: returned by value, the array
/// would be copied per head.
pub type StackRoom<'b> = [std::mem::MaybeUninit<httparse::Header<'b>>; STACK_ROOM];

/// An uninitialised `StackRoom` (inlined: built in place, never copied).
#[inline(always)]
pub const fn stack_room<'b>() -> StackRoom<'b> {
    [const { std::mem::MaybeUninit::uninit() }; STACK_ROOM]
}

/// Room for the fields `tune.http.maxhdr` allows and a few HAProxy would not count: on the
/// stack up to the default, else on the heap. A head with more is refused by httparse
/// (`TooManyHeaders`); the caller checks the count (`too_many_fields`).
pub fn header_room<'a, 'b>(
    stack: &'a mut StackRoom<'b>,
    heap: &'a mut Vec<std::mem::MaybeUninit<httparse::Header<'b>>>,
) -> &'a mut [std::mem::MaybeUninit<httparse::Header<'b>>] {
    let n = max_fields() + UNCOUNTED_ROOM;
    if n <= STACK_ROOM {
        &mut stack[..n]
    } else {
        heap.resize_with(n, std::mem::MaybeUninit::uninit);
        heap
    }
}

/// Room for the spans of one head's fields: on the stack for the usual few, on the heap
/// beyond. Room for `MAX_HEADERS` zeroed on every head showed in profiles (1.6 kB, twice a
/// request); the caller keeps it, as returned by value it would be copied per message.
#[derive(Default)]
pub struct SpanRoom {
    few: [Span; SpanRoom::FEW],
    many: Vec<Span>,
}

impl SpanRoom {
    /// More fields than a browser's request or a web server's response usually has.
    /// (Arrays up to 32 long have a `Default`.)
    const FEW: usize = 32;

    /// Records where `headers`, as httparse found them in `buf`, lie. (At most
    /// `tune.http.maxhdr`, in a head far shorter than u32::MAX: both bounded by the callers.)
    pub fn fill(&mut self, buf: &[u8], headers: &[httparse::Header<'_>]) -> &[Span] {
        let n = headers.len();
        let at: &mut [Span] = if n <= SpanRoom::FEW {
            &mut self.few[..n]
        } else {
            self.many.resize(n, (0, 0, 0, 0));
            &mut self.many
        };
        let base = buf.as_ptr() as usize;
        for (s, h) in at.iter_mut().zip(headers) {
            let (k, v) = (h.name.as_ptr() as usize - base, h.value.as_ptr() as usize - base);
            *s = (
                k as u32,
                (k + h.name.len()) as u32,
                v as u32,
                (v + h.value.len()) as u32,
            );
        }
        at
    }
}

/// The header fields, from `head`: the bytes the spans were taken in, frozen.
/// `room`: fields the rules may add, made room for now rather than by growing the map then.
/// The map is one this thread had spare (see `recycle`) when there is one.
pub fn header_map(spans: &[Span], head: &Bytes, room: usize) -> Result<HeaderMap, &'static str> {
    let mut map = SPARE_MAPS
        .try_with(|s| s.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default();
    map.reserve(spans.len() + room);
    for &(k0, k1, v0, v1) in spans {
        let (k0, k1, v0, v1) = (k0 as usize, k1 as usize, v0 as usize, v1 as usize);
        let name = HeaderName::from_bytes(&head[k0..k1]).map_err(|_| "invalid header name")?;
        let value = HeaderValue::from_maybe_shared(head.slice(v0..v1)).map_err(|_| "invalid header value")?;
        map.append(name, value);
    }
    Ok(map)
}

/// Header maps kept per thread for the next messages, and the largest kept: a map that
/// grew beyond (a message with many fields) is let go rather than held.
const SPARE_MAX: usize = 64;
const SPARE_FIELDS_MAX: usize = 64;

thread_local! {
    /// Emptied header maps of finished messages: a new head takes one instead of allocating
    /// two vectors, as HAProxy takes its buffers from a pool.
    static SPARE_MAPS: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
}

/// Gives the header map of a message this thread is done with back for the next one.
/// A map that held many values is let go too: clearing keeps the room of repeated fields.
pub fn recycle(mut map: HeaderMap) {
    if map.capacity() == 0 || map.capacity() > SPARE_FIELDS_MAX || map.len() > SPARE_FIELDS_MAX {
        return;
    }
    map.clear();
    // While the thread ends, its spares are gone: the map is simply dropped.
    let _ = SPARE_MAPS.try_with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < SPARE_MAX {
            s.push(map);
        }
    });
}

/// A header map that goes back to this thread's spares once dropped, on whichever path
/// its message ends.
pub struct Reused(HeaderMap);

impl Reused {
    pub fn new(map: HeaderMap) -> Reused {
        Reused(map)
    }
}

impl Drop for Reused {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.0));
    }
}

impl std::ops::Deref for Reused {
    type Target = HeaderMap;
    fn deref(&self) -> &HeaderMap {
        &self.0
    }
}

impl std::ops::DerefMut for Reused {
    fn deref_mut(&mut self) -> &mut HeaderMap {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_header_map_is_reused_empty() {
        let head = Bytes::from_static(b"Host: a\r\nAccept: b\r\n");
        let spans = [(0, 4, 6, 7), (9, 15, 17, 18)];
        let first = header_map(&spans, &head, 2).unwrap();
        assert_eq!(first.len(), 2);
        let room = first.capacity();
        assert!(room >= 4, "room for the fields rules add: {room}");
        recycle(first);
        // The next head gets that map back, emptied, and fills it without growing it.
        let mut next = header_map(&spans[..1], &head, 2).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next.capacity(), room);
        next.append("x-a", HeaderValue::from_static("1"));
        next.append("x-b", HeaderValue::from_static("2"));
        assert_eq!(next.capacity(), room);
        // A map grown large is not kept, nor one that held many values.
        let mut big = HeaderMap::with_capacity(500);
        big.append("x-c", HeaderValue::from_static("3"));
        recycle(big);
        assert!(header_map(&spans, &head, 0).unwrap().capacity() < 500);
        let mut many = HeaderMap::with_capacity(4);
        for _ in 0..100 {
            many.append("x-d", HeaderValue::from_static("4"));
        }
        let (room, len) = (many.capacity(), many.len());
        assert!(room <= SPARE_FIELDS_MAX && len > SPARE_FIELDS_MAX);
        recycle(many);
        assert!(SPARE_MAPS.with(|s| s.borrow().is_empty()), "a map of {len} values kept");
    }
}
