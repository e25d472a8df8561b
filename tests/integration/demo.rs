use shelfsync::cli::DemoArgs;
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::inventory::store::LedgerStore;
use shelfsync_actors::storage::{client_tree, open_database, DEFAULT_CACHE_BYTES};

#[test]
fn the_demo_runs_its_clients_and_leaves_verified_ledgers() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("db");
    let args = DemoArgs {
        seconds: 1,
        clients: 2,
        data_dir: Some(data_dir.clone()),
        seed: 3,
    };
    shelfsync::demo::run(args).unwrap();

    let db = open_database(&data_dir, DEFAULT_CACHE_BYTES).unwrap();
    for code in ["ACME", "BOLT"] {
        let tree = client_tree(&db, &ClientCode::parse(code).unwrap()).unwrap();
        let report = LedgerStore::open(tree).unwrap().verify().unwrap();
        // 12 opening counts plus at least a few orders from three marketplaces in one second.
        assert!(
            report.head_seq > 12 + 3,
            "{code}: only {} journal entries",
            report.head_seq
        );
        assert_eq!(report.skus, 12);
    }
    let third = client_tree(&db, &ClientCode::parse("CORA").unwrap()).unwrap();
    assert!(third.is_empty(), "only the requested number of clients run");
}
