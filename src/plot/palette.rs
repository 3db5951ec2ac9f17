//! Colours and short names of localities, the same in every chart and on the console.
//!
//! * **Colour**: a region's colour comes from its name alone (a hash into the Okabe–Ito palette,
//!   which stays distinct for the common colour-vision deficiencies), so `us-central1` has the
//!   same colour in every scenario; the zones of one region are tints and shades of it. Only when
//!   two regions of one run hash to the same colour does the second (by name) take the next free
//!   one.
//! * **Label**: a locality `region/zone/sub_zone` is shortened only in ways that cannot make two
//!   labels equal: a zone that repeats its region (`europe-west1/europe-west1-b`) is written
//!   alone (`europe-west1-b`), and a region shared by every locality is dropped; if the short
//!   labels of a run are not all different, every label is the full name.

use plotters::style::RGBColor;

/// The Okabe–Ito palette without black (kept for text and errors): blue, orange, bluish green,
/// vermillion, sky blue, reddish purple, yellow.
pub(super) const OKABE_ITO: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xF0, 0xE4, 0x42),
];

/// FNV-1a, 64 bits, a fixed hash of a name (the same on every machine), with its offset basis
/// replaced by a constant chosen so that common sets of region names get distinct colours:
/// `europe-west1`, `us-central1`, `asia-east1`; `us-east1`, `us-west1`, `us-central1`;
/// `us-east-1`, `us-west-2`, `eu-west-1`; `eastus`, `westus`, `westeurope`; `region-a`, `-b`,
/// `-c`; and `europe-west1` blue, `us-central1` orange as in the README's pictures.
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0x07ea_fc07_b4ae_7f66;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// `c` moved towards white (`f > 0`) or black (`f < 0`) by `|f|`.
fn tone(c: RGBColor, f: f64) -> RGBColor {
    let target = if f >= 0.0 { 255.0 } else { 0.0 };
    let f = f.abs().min(1.0);
    let ch = |v: u8| (f64::from(v) + (target - f64::from(v)) * f).round() as u8;
    RGBColor(ch(c.0), ch(c.1), ch(c.2))
}

/// Tones of the zones of one region, in zone-name order: the region's colour, then lighter and
/// darker by turns.
const ZONE_TONES: [f64; 6] = [0.0, 0.45, -0.35, 0.7, -0.55, 0.25];

fn region_of(locality: &str) -> &str {
    locality.split('/').next().unwrap_or(locality)
}

/// The colour of each locality (see the module docs). Equal names get equal colours.
pub fn locality_colors(localities: &[String]) -> Vec<RGBColor> {
    let mut regions: Vec<&str> = localities.iter().map(|l| region_of(l)).collect();
    regions.sort_unstable();
    regions.dedup();
    // Each region's palette slot: its hash, or the next free slot when an earlier region has it.
    let mut taken = [false; OKABE_ITO.len()];
    let mut slots: Vec<usize> = Vec::with_capacity(regions.len());
    for r in &regions {
        let want = (fnv1a(r) % OKABE_ITO.len() as u64) as usize;
        let slot = (0..OKABE_ITO.len()).map(|k| (want + k) % OKABE_ITO.len()).find(|s| !taken[*s]).unwrap_or(want);
        taken[slot] = true;
        slots.push(slot);
    }
    // Every distinct locality once, by region then name: a zone's tone is its rank in its region.
    // Binary searches keep this O(n log n): a scenario may hold thousands of localities.
    let mut zones: Vec<(&str, &str)> = localities.iter().map(|l| (region_of(l), l.as_str())).collect();
    zones.sort_unstable();
    zones.dedup();
    localities
        .iter()
        .map(|l| {
            let r = region_of(l);
            let slot = regions.binary_search(&r).map_or(0, |i| slots[i]);
            let first = zones.partition_point(|(x, _)| *x < r);
            let k = zones.binary_search(&(r, l.as_str())).map_or(0, |i| i - first);
            tone(OKABE_ITO[slot], ZONE_TONES[k % ZONE_TONES.len()])
        })
        .collect()
}

/// Short labels of localities, all different when the names are (see the module docs).
pub fn locality_labels(localities: &[String]) -> Vec<String> {
    let parts: Vec<Vec<&str>> = localities.iter().map(|l| l.split('/').collect()).collect();
    let one_region = parts.len() > 1 && parts.iter().all(|p| p[0] == parts[0][0]);
    let short: Vec<String> = parts
        .iter()
        .map(|p| {
            let (region, rest) = (p[0], &p[1..]);
            let Some(zone) = rest.first() else { return region.to_string() };
            let zone_names_region = zone.starts_with(region) && zone.len() > region.len();
            if one_region || zone_names_region { rest.join("/") } else { p.join("/") }
        })
        .collect();
    let mut sorted: Vec<&String> = short.iter().collect();
    sorted.sort_unstable();
    let unique = sorted.windows(2).all(|w| w[0] != w[1]) && short.iter().all(|s| !s.is_empty());
    if unique { short } else { localities.to_vec() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn labels_drop_only_what_cannot_confuse() {
        // The issue's case: two zones of europe-west1 printed as `europe-west1/eu~` twice.
        let three = v(&["europe-west1/europe-west1-b", "europe-west1/europe-west1-c", "us-central1/us-central1-a"]);
        assert_eq!(locality_labels(&three), v(&["europe-west1-b", "europe-west1-c", "us-central1-a"]));
        // Zones that do not repeat the region keep it, unless every locality shares it.
        assert_eq!(
            locality_labels(&v(&["region-a/zone-1", "region-b/zone-1"])),
            v(&["region-a/zone-1", "region-b/zone-1"])
        );
        assert_eq!(locality_labels(&v(&["region-a/zone-1", "region-a/zone-2"])), v(&["zone-1", "zone-2"]));
        assert_eq!(locality_labels(&v(&["us-east1", "us-west1"])), v(&["us-east1", "us-west1"]));
        assert_eq!(locality_labels(&v(&["r/r-z/s1", "r/r-z/s2"])), v(&["r-z/s1", "r-z/s2"]));
        assert_eq!(locality_labels(&v(&["a/a-1", "b/a-1"])), v(&["a-1", "b/a-1"]));
        // A short form that would repeat falls back to the full names.
        let clash = v(&["a/a-b", "a-b"]);
        assert_eq!(locality_labels(&clash), clash);
    }

    #[test]
    fn labels_are_unique_whenever_the_names_are() {
        let pool = ["r", "r-1", "s", "r/r-1", "r/z", "s/z", "s/s-1", "r/r-1/x", "r/r-1/y", "s/r-1", "r/r", "s/s"];
        // Every set of up to four distinct names from the pool.
        let n = pool.len();
        for mask in 1u32..(1 << n) {
            if mask.count_ones() > 4 {
                continue;
            }
            let names: Vec<String> = (0..n).filter(|i| mask & (1 << i) != 0).map(|i| pool[i].to_string()).collect();
            let labels = locality_labels(&names);
            let mut sorted = labels.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "{names:?} -> {labels:?}");
            assert!(labels.iter().all(|l| !l.is_empty()), "{names:?} -> {labels:?}");
        }
    }

    #[test]
    fn common_regions_get_the_palette_colours_the_docs_promise() {
        let c = locality_colors(&v(&[
            "europe-west1/europe-west1-b",
            "us-central1/us-central1-a",
            "asia-east1/asia-east1-a",
        ]));
        assert_eq!(c, vec![OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[3]], "blue, orange, vermillion");
    }

    #[test]
    fn a_region_keeps_its_colour_across_scenarios() {
        let a = locality_colors(&v(&["europe-west1/europe-west1-b", "us-central1/us-central1-a"]));
        let b = locality_colors(&v(&[
            "us-central1/us-central1-a",
            "asia-east1/asia-east1-a",
            "europe-west1/europe-west1-b",
        ]));
        assert_eq!(a[0], b[2], "europe-west1");
        assert_eq!(a[1], b[0], "us-central1");
        // Distinct regions get distinct colours, zones of one region distinct tones of it.
        let zones = v(&["europe-west1/europe-west1-b", "europe-west1/europe-west1-c", "europe-west1/europe-west1-d"]);
        let c = locality_colors(&zones);
        assert_eq!(c[0], a[0], "the first zone has the region's colour");
        assert!(c[0] != c[1] && c[1] != c[2] && c[0] != c[2], "{c:?}");
        let many: Vec<String> = (0..7).map(|i| format!("region-{i}")).collect();
        let m = locality_colors(&many);
        for i in 0..7 {
            for j in 0..i {
                assert_ne!(m[i], m[j], "{} and {}", many[i], many[j]);
            }
        }
    }
}
