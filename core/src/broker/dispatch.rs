//! Choosing a worker in O(1): each service keeps its workers ordered by requests in flight.
//!
//! A worker's load only ever moves by one (a request forwarded, a reply or a loss), so it only
//! has to trade places with the edge of its load group: the first worker of the group when its
//! load drops, the last when it rises. With the start of every group known, both are O(1), and
//! a least loaded worker is always at the front. Ties go round robin: a cursor walks the
//! workers in registration order and its worker is taken when it is among the least loaded
//! (then the front one is). Adding and removing workers (registration, DOWN, expiry) re-sorts:
//! rare, and O(n log n).

use super::WorkerId;
use rustc_hash::FxHashMap as HashMap;

pub(super) struct Service {
    /// Workers and their requests in flight, non-decreasing in load.
    order: Vec<(WorkerId, u32)>,
    /// Where each worker is in `order`.
    position: HashMap<WorkerId, usize>,
    /// `starts[k]` is the first position whose load is at least `k`, for `k` up to the highest
    /// load present (`starts[0] == 0`); beyond that, `order.len()`.
    starts: Vec<usize>,
    /// The workers in registration order, and the next one's turn.
    ring: Vec<WorkerId>,
    cursor: usize,
}

impl Service {
    pub fn new() -> Service {
        Service { order: Vec::new(), position: HashMap::default(), starts: vec![0], ring: Vec::new(), cursor: 0 }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The worker for the next request, one of the least loaded, and its load: the worker
    /// whose turn it is if it is among them, else the first of them.
    pub fn pick(&mut self) -> Option<(WorkerId, u32)> {
        let (front, least) = self.order.first()?;
        let turn = &self.ring[self.cursor];
        self.cursor = (self.cursor + 1) % self.ring.len();
        if self.order[self.position[turn]].1 == *least {
            return Some((turn.clone(), *least));
        }
        Some((front.clone(), *least))
    }

    /// The workers with their loads, in registration order.
    pub fn workers(&self) -> impl Iterator<Item = (&WorkerId, u32)> {
        self.ring.iter().map(|w| (w, self.order[self.position[w]].1))
    }

    pub fn total_load(&self) -> u64 {
        self.order.iter().map(|(_, load)| *load as u64).sum()
    }

    /// Registers `worker` with nothing in flight (no effect if it is already there).
    pub fn add(&mut self, worker: WorkerId) {
        if !self.position.contains_key(&worker) {
            self.ring.push(worker.clone());
            self.order.push((worker, 0));
            self.rebuild();
        }
    }

    /// Forgets `worker`; returns its load, or `None` if it was not there.
    pub fn remove(&mut self, worker: &[u8]) -> Option<u32> {
        let at = self.position.remove(worker)?;
        let (_, load) = self.order.remove(at);
        if let Some(turn) = self.ring.iter().position(|w| &w[..] == worker) {
            self.ring.remove(turn);
            if turn < self.cursor {
                self.cursor -= 1; // the same worker keeps its turn
            }
            if self.cursor >= self.ring.len() {
                self.cursor = 0;
            }
        }
        self.rebuild();
        Some(load)
    }

    /// One more request in flight at `worker`.
    pub fn started(&mut self, worker: &[u8]) {
        let Some(&at) = self.position.get(worker) else { return };
        let load = self.order[at].1 as usize;
        let last = self.start(load + 1) - 1; // the last worker of this load
        self.swap(at, last);
        self.order[last].1 += 1;
        if load + 1 == self.starts.len() {
            self.starts.push(last); // a new highest load
        } else {
            self.starts[load + 1] = last;
        }
    }

    /// One request fewer in flight at `worker` (none below zero).
    pub fn finished(&mut self, worker: &[u8]) {
        let Some(&at) = self.position.get(worker) else { return };
        let load = self.order[at].1 as usize;
        if load == 0 {
            return;
        }
        let first = self.starts[load]; // the first worker of this load
        self.swap(at, first);
        self.order[first].1 -= 1;
        self.starts[load] = first + 1;
        while self.starts.len() > 1 && self.starts[self.starts.len() - 1] == self.order.len() {
            self.starts.pop(); // nobody has the highest load any more
        }
    }

    fn start(&self, load: usize) -> usize {
        self.starts.get(load).copied().unwrap_or(self.order.len())
    }

    fn swap(&mut self, a: usize, b: usize) {
        if a != b {
            self.order.swap(a, b);
            self.position.insert(self.order[a].0.clone(), a);
            self.position.insert(self.order[b].0.clone(), b);
        }
    }

    /// Re-sorts by load (stable: ties keep their turn) and recomputes positions and starts.
    fn rebuild(&mut self) {
        self.order.sort_by_key(|(_, load)| *load);
        self.position = self.order.iter().enumerate().map(|(i, (w, _))| (w.clone(), i)).collect();
        self.starts = vec![0];
        for (i, (_, load)) in self.order.iter().enumerate() {
            while self.starts.len() <= *load as usize {
                self.starts.push(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> WorkerId {
        format!("worker-{n}").into_bytes().into()
    }

    /// Checks every invariant against a plain model of the loads.
    fn check(service: &Service, model: &std::collections::BTreeMap<u32, u32>) {
        assert_eq!(service.len(), model.len());
        let loads: Vec<u32> = service.order.iter().map(|(_, l)| *l).collect();
        assert!(loads.windows(2).all(|w| w[0] <= w[1]), "not ordered by load: {loads:?}");
        for (i, (w, load)) in service.order.iter().enumerate() {
            assert_eq!(service.position[w], i);
            let n: u32 = String::from_utf8_lossy(w)[7..].parse().unwrap();
            assert_eq!(model[&n], *load, "load of worker {n}");
        }
        assert_eq!(service.starts[0], 0);
        let max = loads.last().copied().unwrap_or(0) as usize;
        assert_eq!(service.starts.len(), max + 1, "starts covers exactly the loads present");
        for k in 0..=max + 1 {
            assert_eq!(service.start(k), loads.iter().position(|&l| l as usize >= k).unwrap_or(loads.len()), "start({k})");
        }
        assert_eq!(service.ring.len(), model.len());
    }

    #[test]
    fn the_least_loaded_worker_is_always_first_under_random_traffic() {
        let mut service = Service::new();
        let mut model = std::collections::BTreeMap::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut random = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for step in 0..20_000 {
            let n = random(12) as u32;
            match random(10) {
                0 => {
                    service.add(id(n));
                    model.entry(n).or_insert(0);
                }
                1 => {
                    assert_eq!(service.remove(&id(n)), model.remove(&n), "remove at step {step}");
                }
                2..=5 => {
                    // A request goes to the picked worker, as the broker sends it.
                    if let Some((w, load)) = service.pick() {
                        let n: u32 = String::from_utf8_lossy(&w)[7..].parse().unwrap();
                        assert_eq!(load, *model.values().min().unwrap(), "picked load at step {step}");
                        assert_eq!(model[&n], load, "picked a worker that is not among the least loaded");
                        service.started(&w);
                        *model.get_mut(&n).unwrap() += 1;
                    }
                }
                _ => {
                    service.finished(&id(n));
                    if let Some(load) = model.get_mut(&n) {
                        *load = load.saturating_sub(1);
                    }
                }
            }
            check(&service, &model);
        }
    }

    #[test]
    fn idle_workers_take_turns() {
        let mut service = Service::new();
        for n in 0..3 {
            service.add(id(n));
        }
        let mut picked = Vec::new();
        for _ in 0..6 {
            let w = service.pick().unwrap().0;
            service.started(&w);
            service.finished(&w); // answered before the next request
            picked.push(String::from_utf8_lossy(&w)[7..].to_owned());
        }
        assert_eq!(picked, ["0", "1", "2", "0", "1", "2"]);
    }

    #[test]
    fn a_busy_worker_is_skipped_when_its_turn_comes() {
        let mut service = Service::new();
        for n in 0..3 {
            service.add(id(n));
        }
        service.started(&id(1)); // worker 1 is slow: one request it has not answered
        let picked: Vec<String> = (0..4)
            .map(|_| {
                let w = service.pick().unwrap().0;
                service.started(&w);
                service.finished(&w);
                String::from_utf8_lossy(&w)[7..].to_owned()
            })
            .collect();
        assert!(!picked.contains(&"1".to_owned()), "the busy worker got a request: {picked:?}");
        assert!(picked.contains(&"0".to_owned()) && picked.contains(&"2".to_owned()), "{picked:?}");
    }

    #[test]
    fn unknown_workers_and_idle_releases_change_nothing() {
        let mut service = Service::new();
        service.add(id(1));
        service.finished(&id(1));
        service.started(&id(9));
        service.finished(&id(9));
        assert_eq!(service.remove(&id(9)), None);
        assert_eq!(service.workers().collect::<Vec<_>>(), [(&id(1), 0)]);
        service.add(id(1));
        assert_eq!(service.len(), 1, "adding twice keeps one entry");
    }
}
