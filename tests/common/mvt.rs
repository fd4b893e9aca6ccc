//! An independent Mapbox Vector Tile 2.1 decoder for tests: the `vector_tile.proto` schema of the specification
//! as prost messages, and the geometry command decoding of section 4.3.

#![allow(dead_code)]

#[derive(Clone, PartialEq, prost::Message)]
pub struct Tile {
    #[prost(message, repeated, tag = "3")]
    pub layers: Vec<Layer>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    #[prost(string, optional, tag = "1")]
    pub string_value: Option<String>,
    #[prost(float, optional, tag = "2")]
    pub float_value: Option<f32>,
    #[prost(double, optional, tag = "3")]
    pub double_value: Option<f64>,
    #[prost(int64, optional, tag = "4")]
    pub int_value: Option<i64>,
    #[prost(uint64, optional, tag = "5")]
    pub uint_value: Option<u64>,
    #[prost(sint64, optional, tag = "6")]
    pub sint_value: Option<i64>,
    #[prost(bool, optional, tag = "7")]
    pub bool_value: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Feature {
    #[prost(uint64, optional, tag = "1")]
    pub id: Option<u64>,
    #[prost(uint32, repeated, tag = "2")]
    pub tags: Vec<u32>,
    #[prost(int32, optional, tag = "3")]
    pub r#type: Option<i32>,
    #[prost(uint32, repeated, tag = "4")]
    pub geometry: Vec<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Layer {
    #[prost(uint32, required, tag = "15")]
    pub version: u32,
    #[prost(string, required, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub features: Vec<Feature>,
    #[prost(string, repeated, tag = "3")]
    pub keys: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    pub values: Vec<Value>,
    #[prost(uint32, optional, tag = "5")]
    pub extent: Option<u32>,
}

pub fn decode(bytes: &[u8]) -> Tile {
    <Tile as prost::Message>::decode(bytes).expect("valid MVT protobuf")
}

/// A property value as JSON-ish enum.
#[derive(Clone, Debug, PartialEq)]
pub enum Prop {
    Str(String),
    Int(i64),
    Double(f64),
}

impl Prop {
    pub fn as_f64(&self) -> f64 {
        match self {
            Prop::Int(i) => *i as f64,
            Prop::Double(d) => *d,
            Prop::Str(s) => s.parse().unwrap_or(f64::NAN),
        }
    }
    pub fn as_str(&self) -> String {
        match self {
            Prop::Str(s) => s.clone(),
            Prop::Int(i) => i.to_string(),
            Prop::Double(d) => d.to_string(),
        }
    }
}

/// Properties of a feature, resolved through the layer's key/value tables.
pub fn properties(layer: &Layer, f: &Feature) -> std::collections::BTreeMap<String, Prop> {
    assert!(f.tags.len() % 2 == 0, "tags come in pairs");
    f.tags
        .chunks(2)
        .map(|kv| {
            let k = layer.keys[kv[0] as usize].clone();
            let v = &layer.values[kv[1] as usize];
            let p = if let Some(s) = &v.string_value {
                Prop::Str(s.clone())
            } else if let Some(i) = v.int_value.or(v.sint_value) {
                Prop::Int(i)
            } else if let Some(u) = v.uint_value {
                Prop::Int(u as i64)
            } else if let Some(d) = v.double_value {
                Prop::Double(d)
            } else if let Some(fl) = v.float_value {
                Prop::Double(f64::from(fl))
            } else {
                panic!("value without content")
            };
            (k, p)
        })
        .collect()
}

/// Decoded geometry: for polygons the rings (closed by ClosePath, first point not repeated), for points the
/// points as one-point rings.
pub fn rings(f: &Feature) -> Vec<Vec<(i64, i64)>> {
    let g = &f.geometry;
    let (mut x, mut y) = (0i64, 0i64);
    let mut out: Vec<Vec<(i64, i64)>> = Vec::new();
    let mut i = 0;
    let zz = |v: u32| ((v >> 1) as i64) ^ -((v & 1) as i64);
    while i < g.len() {
        let cmd = g[i] & 7;
        let count = (g[i] >> 3) as usize;
        i += 1;
        match cmd {
            1 => {
                for _ in 0..count {
                    x += zz(g[i]);
                    y += zz(g[i + 1]);
                    i += 2;
                    out.push(vec![(x, y)]);
                }
            }
            2 => {
                let ring = out.last_mut().expect("LineTo after MoveTo");
                for _ in 0..count {
                    x += zz(g[i]);
                    y += zz(g[i + 1]);
                    i += 2;
                    ring.push((x, y));
                }
            }
            7 => assert_eq!(count, 1, "ClosePath count is 1"),
            other => panic!("unknown command {other}"),
        }
    }
    out
}

/// Twice the signed area (surveyor's formula) in tile coordinates; positive = exterior per MVT 2.1.
pub fn area2(ring: &[(i64, i64)]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (x0, y0) = ring[i];
            let (x1, y1) = ring[(i + 1) % n];
            x0 * y1 - x1 * y0
        })
        .sum()
}

/// Rings grouped into polygons (an exterior followed by its holes).
pub fn polygons(f: &Feature) -> Vec<Vec<Vec<(i64, i64)>>> {
    let mut out: Vec<Vec<Vec<(i64, i64)>>> = Vec::new();
    for r in rings(f) {
        let a = area2(&r);
        assert_ne!(a, 0, "zero-area ring");
        if a > 0 {
            out.push(vec![r]);
        } else {
            out.last_mut().expect("a hole follows an exterior").push(r);
        }
    }
    out
}
