//! Recipe upload (spec §9) against the IMS fake: reuse, filling an empty record, clean-up of a
//! record this run created and only that one.

mod common;

use std::collections::BTreeMap;

use common::{Faulty, MemStore, Op, fake, ims_client};
use ims_client::{Distro, ImsError, RecipeRequest, recipe_key, upload_recipe};
use serde_json::json;

fn archive(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("recipe.tgz");
    let mut data = vec![0x1f, 0x8b, 8, 0];
    data.extend(std::iter::repeat_n(7u8, 2000));
    std::fs::write(&path, data).unwrap();
    path
}

fn request(dir: &std::path::Path) -> RecipeRequest {
    RecipeRequest {
        name: "cos".into(),
        path: archive(dir),
        distro: Distro::Sles15,
        template: BTreeMap::from([("CSM_RELEASE".to_owned(), "1.6".to_owned())]),
        arch: None,
        require_dkms: None,
    }
}

fn count(fake: &test_support::ims_fake::ImsFake, method: &str, prefix: &str) -> usize {
    fake.log()
        .iter()
        .filter(|l| l.method == method && l.path.starts_with(prefix))
        .count()
}

#[tokio::test]
async fn an_empty_record_is_filled_with_the_template_as_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    let ims = ims_client(&fake);
    // Seed an empty recipe record through the API, as an earlier failed run leaves it.
    let body = json!({"name": "cos", "recipe_type": "kiwi-ng", "linux_distribution": "sles15"});
    let empty = ims.create_recipe(body).await.unwrap();

    let record = upload_recipe(&ims, &mem, &request(dir.path()))
        .await
        .unwrap();
    assert_eq!(record.id(), empty.id());
    assert_eq!(
        count(&fake, "POST", "/apis/ims/recipes"),
        1,
        "only the seeding POST"
    );
    assert_eq!(
        record.get("template_dictionary").unwrap(),
        &json!([{"key": "CSM_RELEASE", "value": "1.6"}])
    );
    assert!(mem.get_object(&recipe_key(empty.id())).is_some());

    // The same file and template again: returned as is.
    let again = upload_recipe(&ims, &mem, &request(dir.path()))
        .await
        .unwrap();
    assert_eq!(again.id(), empty.id());
    assert_eq!(count(&fake, "PATCH", "/apis/ims/recipes"), 1);
}

#[tokio::test]
async fn a_failed_upload_deletes_only_a_record_this_run_created() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    let ims = ims_client(&fake);

    let store = Faulty::new(mem.clone(), Op::Upload, "recipe.tar.gz");
    let e = upload_recipe(&ims, &store, &request(dir.path()))
        .await
        .unwrap_err();
    // The original error comes back (upstream crashed here), the new record is gone.
    match &e {
        ImsError::Upload {
            source,
            cleanup_errors,
            ..
        } => {
            assert!(source.to_string().contains("injected failure"), "{source}");
            assert!(cleanup_errors.is_empty(), "{cleanup_errors:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.recipes().is_empty());
    assert_eq!(count(&fake, "DELETE", "/apis/ims/recipes/"), 1);

    // An empty record someone else left is not ours to delete.
    let body = json!({"name": "cos", "recipe_type": "kiwi-ng", "linux_distribution": "sles15"});
    let empty = ims.create_recipe(body).await.unwrap();
    assert!(
        upload_recipe(&ims, &store, &request(dir.path()))
            .await
            .is_err()
    );
    assert_eq!(fake.recipes().len(), 1);
    assert_eq!(fake.recipes()[0]["id"], empty.id());
    assert_eq!(count(&fake, "DELETE", "/apis/ims/recipes/"), 1);
}

#[tokio::test]
async fn an_interrupted_upload_cleans_up_like_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    let ims = ims_client(&fake);
    let interrupted = |e: &ImsError| matches!(e, ImsError::Upload { source, .. } if matches!(**source, ImsError::Interrupted));

    // A record this run created: deleted, with the key it was being uploaded to.
    let store = Faulty::new(mem.clone(), Op::Stall, "recipe.tar.gz");
    let stalled = store.stalled.clone();
    let e = ims_client::upload_recipe_until(&ims, &store, &request(dir.path()), stalled.notified())
        .await
        .unwrap_err();
    assert!(interrupted(&e), "{e:?}");
    assert!(fake.recipes().is_empty(), "{:?}", fake.recipes());
    assert_eq!(store.deletes.lock().unwrap().len(), 1);
    assert!(store.deletes.lock().unwrap()[0].ends_with("/recipe.tar.gz"));

    // Someone else's empty record stays (still empty); only this run's key is removed.
    let body = json!({"name": "cos", "recipe_type": "kiwi-ng", "linux_distribution": "sles15"});
    let empty = ims.create_recipe(body).await.unwrap();
    let store = Faulty::new(mem.clone(), Op::Stall, "recipe.tar.gz");
    let stalled = store.stalled.clone();
    let e = ims_client::upload_recipe_until(&ims, &store, &request(dir.path()), stalled.notified())
        .await
        .unwrap_err();
    assert!(interrupted(&e), "{e:?}");
    assert_eq!(fake.recipes().len(), 1);
    assert_eq!(fake.recipes()[0]["id"], empty.id());
    assert!(fake.recipes()[0]["link"].is_null());
    assert_eq!(
        *store.deletes.lock().unwrap(),
        [recipe_key(empty.id())],
        "exactly the key of the empty record"
    );
    assert!(mem.keys().is_empty());
}
