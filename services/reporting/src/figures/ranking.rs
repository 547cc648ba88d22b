//! Rankings and problem areas: groups ordered by volume or by a rate, thin groups left out of rate orders.

use super::*;

/// One ranking entry of a group.
pub fn entry(by: Dimension, key: &str, c: &Counts, of: u64) -> pb::RankingEntry {
    pb::RankingEntry {
        key: key.to_owned(),
        label: by.label(key),
        received: c.received,
        open: c.open(),
        concluded: c.concluded,
        positive_rate: c.rate(c.positive),
        negative_rate: c.rate(c.negative),
        within_sla_rate: c.within_sla_rate(),
        share: share(c.received, of),
    }
}

/// How a ranking is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Received,
    PositiveRate,
    NegativeRate,
    WithinSlaRate,
}

impl Order {
    pub fn parse(s: &str) -> Option<Order> {
        Some(match s {
            "" | "received" => Order::Received,
            "positive_rate" => Order::PositiveRate,
            "negative_rate" => Order::NegativeRate,
            "within_sla_rate" => Order::WithinSlaRate,
            _ => return None,
        })
    }
}

/// Groups ordered (highest first unless `ascending`, ties by key) and cut
/// to `limit`; rate orders leave out groups with fewer than
/// `min_concluded` concluded applications.
pub fn rank(
    by: Dimension,
    mut groups: Vec<(String, Counts)>,
    order: Order,
    ascending: bool,
    min_concluded: u64,
    limit: usize,
) -> Vec<pb::RankingEntry> {
    let of: u64 = groups.iter().map(|(_, c)| c.received).sum();
    if order != Order::Received {
        groups.retain(|(_, c)| c.concluded >= min_concluded.max(1));
    }
    let value = |c: &Counts| match order {
        Order::Received => c.received as f64,
        Order::PositiveRate => c.rate(c.positive),
        Order::NegativeRate => c.rate(c.negative),
        Order::WithinSlaRate => c.within_sla_rate(),
    };
    groups.sort_by(|(ka, a), (kb, b)| {
        let o = value(a).total_cmp(&value(b));
        let o = if ascending { o } else { o.reverse() };
        o.then_with(|| ka.cmp(kb))
    });
    groups
        .iter()
        .take(limit)
        .map(|(k, c)| entry(by, k, c, of))
        .collect()
}

/// Problem areas: application types with the worst SLA compliance, then
/// the highest negative rate, among those with `min_concluded` concluded.
pub fn problem_areas(
    groups: Vec<(String, Counts)>,
    min_concluded: u64,
    limit: usize,
) -> Vec<pb::RankingEntry> {
    let of: u64 = groups.iter().map(|(_, c)| c.received).sum();
    let mut groups: Vec<_> = groups
        .into_iter()
        .filter(|(_, c)| c.concluded >= min_concluded.max(1))
        .collect();
    groups.sort_by(|(ka, a), (kb, b)| {
        a.within_sla_rate()
            .total_cmp(&b.within_sla_rate())
            .then_with(|| b.rate(b.negative).total_cmp(&a.rate(a.negative)))
            .then_with(|| ka.cmp(kb))
    });
    groups
        .iter()
        .take(limit)
        .map(|(k, c)| entry(Dimension::Type, k, c, of))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_orders_leave_out_thin_groups_and_break_ties_by_key() {
        let c = |received, concluded, negative| Counts {
            received,
            concluded,
            negative,
            ..Default::default()
        };
        let groups = vec![
            ("b".to_owned(), c(10, 10, 5)),
            ("a".to_owned(), c(10, 10, 5)),
            ("thin".to_owned(), c(2, 1, 1)),
        ];
        let r = rank(Dimension::Unit, groups, Order::NegativeRate, false, 5, 10);
        let keys: Vec<&str> = r.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(r[0].share, 10.0 / 22.0);
    }
}
