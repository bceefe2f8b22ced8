//! Whom to contact: customers chosen, best expected value per contact
//! first, while a contact is expected to return at least what it costs
//! and until the budget or the list's length runs out.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use anyhow::Result;
use polars::prelude::DataFrame;

use super::Response;
use crate::groups::Groups;

/// A customer chosen for contact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contact {
    /// The customer's row in the customer table.
    pub row: usize,
    /// The customer's group.
    pub group: usize,
    /// What contacting the customer is expected to add.
    pub expected_value: f64,
}

/// A target list: the contacts, best first, and what each group's next
/// contact (the best one not taken) would have added.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetList {
    /// The customers to contact.
    pub contacts: Vec<Contact>,
    /// Per group, the expected value of its best contact not taken (its
    /// marginal return), none when every customer of the group is taken.
    pub next_value: Vec<Option<f64>>,
}

/// The limits of a target list.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The cost of one contact.
    pub cost: f64,
    /// The most all contacts may cost.
    pub budget: f64,
    /// The most customers on the list.
    pub count: usize,
}

impl Limits {
    /// How many contacts the limits allow.
    fn contacts(&self) -> usize {
        let affordable = if self.cost > 0.0 {
            (self.budget / self.cost * (1.0 + 1e-12)).floor()
        } else {
            f64::INFINITY
        };
        self.count.min(affordable.min(usize::MAX as f64) as usize)
    }
}

/// Customers valued one by one (uplift × clv, say): the best first, ties
/// by row, while the value is at least the cost of a contact, and no group
/// spends past its maximum.
pub fn by_customer(
    values: &[f64],
    groups: &[usize],
    responses: &[Response],
    limits: Limits,
) -> TargetList {
    let mut order: Vec<usize> = (0..values.len())
        .filter(|&i| values[i] >= limits.cost && values[i] > 0.0 && values[i].is_finite())
        .collect();
    order.sort_by(|&i, &j| values[j].total_cmp(&values[i]).then(i.cmp(&j)));
    let mut spent = vec![0.0; responses.len()];
    let mut chosen = Vec::new();
    let limit = limits.contacts();
    for row in order {
        if chosen.len() == limit {
            break;
        }
        let g = groups[row];
        if spent[g] + limits.cost > responses[g].max * (1.0 + 1e-12) {
            continue;
        }
        spent[g] += limits.cost;
        chosen.push(Contact {
            row,
            group: g,
            expected_value: values[row],
        });
    }
    let mut taken = vec![false; values.len()];
    for contact in &chosen {
        taken[contact.row] = true;
    }
    let mut next_value: Vec<Option<f64>> = vec![None; responses.len()];
    for (row, &value) in values.iter().enumerate() {
        let next = &mut next_value[groups[row]];
        if !taken[row] && value.is_finite() && next.is_none_or(|n| value > n) {
            *next = Some(value);
        }
    }
    TargetList {
        contacts: chosen,
        next_value,
    }
}

/// Customers valued by their group's response: the j-th contact in a
/// group adds V(j·c) − V((j − 1)·c), so contacts are taken from the group
/// whose next one adds most (ties to the first group), each group's
/// `members` in their order, after the contacts each group's minimum
/// asks for, while the next contact adds at least its cost; no group
/// spends past its maximum.
pub fn by_group(members: &[Vec<usize>], responses: &[Response], limits: Limits) -> TargetList {
    let c = limits.cost;
    let room = |g: usize| -> usize {
        let bound = if c > 0.0 {
            (responses[g].max / c * (1.0 + 1e-12)).floor()
        } else {
            f64::INFINITY
        };
        members[g].len().min(bound.min(usize::MAX as f64) as usize)
    };
    let gain = |g: usize, j: usize| {
        let r = &responses[g];
        r.expected_return(j as f64 * c) - r.expected_return((j - 1) as f64 * c)
    };
    let mut taken = vec![0usize; members.len()];
    let mut chosen = Vec::new();
    let take = |g: usize, taken: &mut Vec<usize>, chosen: &mut Vec<Contact>| {
        taken[g] += 1;
        chosen.push(Contact {
            row: members[g][taken[g] - 1],
            group: g,
            expected_value: gain(g, taken[g]),
        });
    };
    let limit = limits.contacts();
    for g in 0..members.len() {
        let least = if c > 0.0 {
            (responses[g].min / c).ceil() as usize
        } else {
            0
        };
        while taken[g] < least.min(room(g)) && chosen.len() < limit {
            take(g, &mut taken, &mut chosen);
        }
    }
    let mut next: BinaryHeap<Next> = (0..members.len())
        .filter(|&g| taken[g] < room(g))
        .map(|g| Next {
            gain: gain(g, taken[g] + 1),
            group: g,
        })
        .collect();
    while chosen.len() < limit {
        let Some(Next { gain: value, group }) = next.pop() else {
            break;
        };
        if value <= 0.0 || value < c {
            break;
        }
        take(group, &mut taken, &mut chosen);
        if taken[group] < room(group) {
            next.push(Next {
                gain: gain(group, taken[group] + 1),
                group,
            });
        }
    }
    TargetList {
        contacts: chosen,
        next_value: (0..members.len())
            .map(|g| (taken[g] < members[g].len()).then(|| gain(g, taken[g] + 1)))
            .collect(),
    }
}

/// A group's next contact in the heap: the largest gain first, then the
/// first group.
#[derive(PartialEq)]
struct Next {
    gain: f64,
    group: usize,
}

impl Eq for Next {}

impl Ord for Next {
    fn cmp(&self, other: &Self) -> Ordering {
        self.gain
            .total_cmp(&other.gain)
            .then(other.group.cmp(&self.group))
    }
}

impl PartialOrd for Next {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The customers to contact: valued one by one (the group's uplift ×
/// clv; clv already carries P(alive)) when the table has clv, else by their
/// group's response, the customers of a group by `value_column`, highest
/// first.
pub fn contacts(
    table: &DataFrame,
    groups: &Groups,
    responses: &[Response],
    limits: Limits,
    value_column: &str,
) -> Result<TargetList> {
    let numbers = |name: &str| crate::segment::numbers(table, name);
    if table.column("clv").is_ok() {
        let uplift: Vec<f64> = responses
            .iter()
            .zip(&groups.value)
            .map(|(r, &v)| if v > 0.0 { r.uplift_value / v } else { 0.0 })
            .collect();
        let clv = numbers("clv")?;
        let values: Vec<f64> = (0..clv.len())
            .map(|i| uplift[groups.of[i]] * clv[i])
            .collect();
        return Ok(by_customer(&values, &groups.of, responses, limits));
    }
    let value = numbers(value_column)?;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups.names.len()];
    for (row, &g) in groups.of.iter().enumerate() {
        members[g].push(row);
    }
    for rows in &mut members {
        rows.sort_by(|&a, &b| value[b].total_cmp(&value[a]).then(a.cmp(&b)));
    }
    Ok(by_group(&members, responses, limits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_contacts_follow_diminishing_returns_within_the_budget() {
        let responses = [
            Response::unbounded(100.0, 2.0),
            Response::unbounded(40.0, 2.0),
        ];
        let members = vec![vec![10, 11, 12, 13], vec![20, 21]];
        let limits = Limits {
            cost: 1.0,
            budget: 4.5,
            count: 100,
        };
        let TargetList {
            contacts: list,
            next_value,
        } = by_group(&members, &responses, limits);
        // the budget buys 4 contacts
        assert_eq!(list.len(), 4);
        let values: Vec<f64> = list.iter().map(|c| c.expected_value).collect();
        assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
        // 100·(1 − e^-0.5) = 39.3 first, then 23.9, then group 2's first
        // (15.7) before group 1's third (14.5)
        assert_eq!(
            list.iter().map(|c| c.row).collect::<Vec<_>>(),
            [10, 11, 20, 12]
        );
        // what the next contact of each group would add: group 1's fourth,
        // 100·(e^-1.5 − e^-2) = 8.8; group 2's second, 40·(e^-0.5 − e^-1)
        let e = f64::exp;
        let want = [100.0 * (e(-1.5) - e(-2.0)), 40.0 * (e(-0.5) - e(-1.0))];
        for (got, want) in next_value.iter().zip(want) {
            assert!((got.unwrap() - want).abs() < 1e-9, "{next_value:?}");
        }
        let short = by_group(&members, &responses, Limits { count: 2, ..limits });
        assert_eq!(short.contacts.len(), 2);
        // at 20 a contact, only the two first contacts pay for themselves
        let dear = by_group(
            &members,
            &responses,
            Limits {
                cost: 20.0,
                budget: 1000.0,
                count: 100,
            },
        );
        assert_eq!(dear.contacts.len(), 2, "{dear:?}");
    }

    #[test]
    fn customer_values_rank_the_list_and_group_maximums_hold() {
        let responses = [
            Response {
                max: 1.0,
                ..Response::unbounded(10.0, 1.0)
            },
            Response::unbounded(10.0, 1.0),
        ];
        let values = [5.0, 9.0, 0.0, 7.0, 9.0];
        let groups = [1, 0, 1, 0, 1];
        let limits = Limits {
            cost: 1.0,
            budget: 10.0,
            count: 10,
        };
        let list = by_customer(&values, &groups, &responses, limits);
        let rows = |list: &TargetList| list.contacts.iter().map(|c| c.row).collect::<Vec<_>>();
        // row 3 is left out: group 0 may spend only 1 (row 1 took it); row 2
        // is worth nothing
        assert_eq!(rows(&list), [1, 4, 0]);
        assert_eq!(list.next_value, [Some(7.0), Some(0.0)]);
        // at 6 a contact, the customer worth 5 does not pay
        let dear = by_customer(
            &values,
            &groups,
            &responses,
            Limits {
                cost: 6.0,
                ..limits
            },
        );
        assert_eq!(rows(&dear), [4]);
    }
}
