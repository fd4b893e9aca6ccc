//! Address-attribute files (WOZ extracts) through the library: an XLSX workbook written by GDAL's XLSX driver in
//! the test (no binary committed) and read back with `read_address_attributes`, as a CSV would be.

use brandpunt::import::address_attributes::read_address_attributes;
use gdal::vector::{
    Feature, FieldDefn, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::DriverManager;

#[test]
fn xlsx_woz_extract_with_number_cells_and_a_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("woz 2024.xlsx");
    {
        let driver = DriverManager::get_driver_by_name("XLSX").unwrap();
        let mut ds = driver.create_vector_only(&path).unwrap();
        let layer = ds
            .create_layer(LayerOptions {
                name: "WOZ",
                ty: OGRwkbGeometryType::wkbNone,
                ..Default::default()
            })
            .unwrap();
        for (header, ty) in [
            ("Verblijfsobject ID", OGRFieldType::OFTString),
            ("Postcode", OGRFieldType::OFTString),
            ("Vastgestelde waarde", OGRFieldType::OFTReal),
            ("Waardepeildatum", OGRFieldType::OFTString),
            ("Bouwlagen", OGRFieldType::OFTReal),
        ] {
            FieldDefn::new(header, ty)
                .unwrap()
                .add_to_layer(&layer)
                .unwrap();
        }
        // (id, postcode, WOZ value, peildatum, bouwlagen)
        type Row<'a> = (&'a str, &'a str, Option<f64>, &'a str, Option<f64>);
        let rows: [Row<'_>; 3] = [
            (
                "1999010000000001",
                "7461AB",
                Some(245_000.0),
                "01-01-2023",
                Some(2.0),
            ),
            ("1999010000000002", "7461AB", Some(312_500.0), "2023", None),
            (
                "1999100000000003",
                "7461AC",
                Some(199_000.0),
                "2023",
                Some(1.0),
            ),
        ];
        for (id, pc, woz, peil, lagen) in rows {
            let mut f = Feature::new(layer.defn()).unwrap();
            f.set_field_string(0, id).unwrap();
            f.set_field_string(1, pc).unwrap();
            if let Some(v) = woz {
                f.set_field_double(2, v).unwrap();
            }
            f.set_field_string(3, peil).unwrap();
            if let Some(v) = lagen {
                f.set_field_double(4, v).unwrap();
            }
            f.create(&layer).unwrap();
        }
        ds.close().unwrap();
    }
    let a = read_address_attributes(&path).unwrap();
    assert_eq!(a.format, "xlsx");
    assert_eq!((a.total_rows, a.objects), (3, 2));
    assert_eq!(a.attributes, ["woz_waarde", "peiljaar", "bouwlagen"]);
    assert_eq!(a.ignored_columns, ["Postcode"]);
    let got: Vec<(&str, &str, f64)> = a
        .values
        .iter()
        .map(|v| (v.bag_id.as_str(), v.name.as_str(), v.value))
        .collect();
    assert_eq!(
        got,
        [
            ("1999010000000001", "woz_waarde", 245_000.0),
            ("1999010000000001", "peiljaar", 2023.0),
            ("1999010000000001", "bouwlagen", 2.0),
            ("1999010000000002", "woz_waarde", 312_500.0),
            ("1999010000000002", "peiljaar", 2023.0),
        ]
    );
    // Sheet row 4 (header in row 1) holds a pand id.
    assert_eq!(a.rejections.len(), 1);
    let r = &a.rejections[0];
    assert_eq!(r.line, 4);
    assert_eq!(r.column.as_deref(), Some("Verblijfsobject ID"));
    assert!(r.reason.contains("pand-id"), "{}", r.reason);
    // The checksum is the file's sha256.
    let bytes = std::fs::read(&path).unwrap();
    use sha2::Digest;
    assert_eq!(a.checksum, format!("{:x}", sha2::Sha256::digest(&bytes)));
}
