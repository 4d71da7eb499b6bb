//! rpm's database (placeholder until the header reader lands).
use super::{PackageTable, TreeReader};

pub fn rpm_table(tree: &dyn TreeReader, db: &str) -> PackageTable {
    PackageTable {
        warnings: vec![format!("{}/{db}: rpm databases are not read yet", tree.describe())],
        ..PackageTable::default()
    }
}
