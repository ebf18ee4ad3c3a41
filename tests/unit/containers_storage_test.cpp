// Why: a containers-storage graph root (podman, CRI-O, buildah) must resolve to exactly the
// layers podman itself stacks, by the names podman stores, and every way a crafted catalogue
// could point ovlmount elsewhere (a bad ID, a parent loop, a layer that is not the config's)
// must be refused as a corrupt store naming the file. Podman's own records (libpod's
// database) are checked record by record: the state a number means, the mounts a config asks
// for, which volumes live in the graph root, and every malformed field naming the db and key.
#include "fakes.hpp"
#include "ovlmount/store/containers_storage.hpp"
#include "ovlmount/store/libpod_state.hpp"
#include "ovlmount/store/resolver.hpp"
#include "temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

using namespace ovlmount;
using namespace ovlmount::test;

namespace {

Result<Stack> resolve(const FakeContainersStorage& fake, const std::string& reference) {
  return resolve_image(open_fake_storage(fake), reference);
}

Error error_of(const Result<Stack>& result) {
  BOOST_TEST_REQUIRE(!result.has_value());
  return result.error();
}

bool mentions(const Error& error, const std::string& text) {
  return error.object.find(text) != std::string::npos || error.problem.find(text) != std::string::npos;
}

const std::string db = "/g/libpod/bolt_state.db";
const std::string ctr_id = sha256_hex("libpod container");
const std::string config_key = "ctr/" + ctr_id + "/config";

// A ctr/<id>/config shaped like podman 4.3's (what ovlmount reads of it, and some it does not).
std::string libpod_config(const std::string& named_volumes, const std::string& spec_mounts,
                          const std::string& id = ctr_id) {
  return R"({"spec":{"ociVersion":"1.0.2-dev","root":{"path":"rootfs"},"mounts":)" + spec_mounts + R"(},"id":")" + id +
         R"(","name":"web","rootfsImageID":")" + std::string(64, 'a') + R"(","namedVolumes":)" + named_volumes +
         R"(,"mounts":["/g/overlay-containers/x/userdata/shm"],"userVolumes":["/vol","/host"]})";
}

const std::string system_mounts =
    R"({"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},)"
    R"({"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755"]})";

Error corrupt_config(const std::string& named_volumes, const std::string& spec_mounts = "[]") {
  auto config = parse_libpod_config(libpod_config(named_volumes, spec_mounts), ctr_id, db, config_key);
  BOOST_TEST_REQUIRE(!config.has_value(), "accepted: " << named_volumes << " " << spec_mounts);
  BOOST_TEST((config.error().code == ExitCode::corrupt));
  BOOST_TEST(config.error().object == db);
  BOOST_TEST(config.error().problem.starts_with(config_key + ": "), config.error().problem);
  return config.error();
}

// A named volume `name` at /vol, completed from vol/<name>/config `text` with graph root `graph_root`.
Result<VolumeMount> located(const std::string& name, const std::string& text,
                            const std::string& graph_root = "/var/lib/containers/storage") {
  VolumeMount volume;
  volume.type = "volume";
  volume.name = name;
  volume.destination = "/vol";
  if (auto done = locate_libpod_volume(volume, text, graph_root, db, "vol/" + name + "/config"); !done)
    return done.error();
  return volume;
}

std::string volume_config(const std::string& name, const std::string& driver, const std::string& mount_point) {
  return R"({"name":")" + name + R"(","lockID":2,"labels":{},"volumeDriver":")" + driver + R"(","mountPoint":")" +
         mount_point + R"(","createdAt":"2026-11-28T19:11:14.542283151Z","isAnon":false,"uid":0,"gid":0})";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(containers_storage)

BOOST_AUTO_TEST_CASE(big_data_names_follow_containers_storage) {
  BOOST_TEST(big_data_file_name("manifest") == "manifest");
  BOOST_TEST(big_data_file_name("sha256:46af66ecdb1badd1b13e168b81a87b7d9cf0944777c8b743030e56f315ce7e48") ==
             "=c2hhMjU2OjQ2YWY2NmVjZGIxYmFkZDFiMTNlMTY4YjgxYTg3YjdkOWNmMDk0NDc3N2M4Yjc0MzAzMGU1NmYzMTVjZTdlNDg=");
  BOOST_TEST(big_data_file_name("ab") == "ab");
  BOOST_TEST(big_data_file_name("A") == "=QQ==");
  BOOST_TEST(big_data_file_name("Ab") == "=QWI=");
}

BOOST_AUTO_TEST_CASE(resolves_podman_names_ids_and_prefixes_to_the_layer_chain) {
  FakeContainersStorage fake;
  const std::vector<std::string> diffs = {diff_id("base"), diff_id("middle"), diff_id("middle")};
  const std::string id = fake.add_image(diffs, {"localhost/app:latest", "registry.local:5000/team/app:v1",
                                                "docker.io/library/nginx:1.25"});
  const std::string manifest = fake.image(id).digest;
  for (const std::string& reference :
       std::vector<std::string>{"app", "app:latest", "localhost/app", "registry.local:5000/team/app:v1", "nginx:1.25",
                                "docker.io/library/nginx:1.25", "nginx@" + manifest, id, "sha256:" + id,
                                id.substr(0, 10)}) {
    auto image = resolve(fake, reference);
    BOOST_TEST_REQUIRE(image.has_value(), reference << ": " << image.error().message());
    BOOST_TEST(image->image_id == "sha256:" + id);
    BOOST_TEST(image->created == "2026-01-02T03:04:05Z");
    BOOST_TEST_REQUIRE(image->layers.size() == 3u);
    const auto chain = chain_ids(diffs);
    std::string parent;
    for (size_t i = 0; i < 3; ++i) {
      const Layer& layer = image->layers[i];
      const std::string layer_id = parent.empty() ? diffs[i].substr(7) : sha256_hex(parent + "+" + diffs[i]);
      BOOST_TEST(layer.diff_id == diffs[i]);
      BOOST_TEST(layer.chain_id == chain[i]);
      BOOST_TEST(layer.cache_id == layer_id);
      BOOST_TEST(layer.dir == "overlay/" + layer_id + "/diff");
      BOOST_TEST(layer.tar_split == "overlay-layers/" + layer_id + ".tar-split.gz");
      BOOST_TEST(layer.size == 1024);
      BOOST_TEST((layer.role == LayerRole::image));
      parent = layer_id;
    }
  }
  BOOST_TEST((error_of(resolve(fake, "nginx")).code == ExitCode::not_found));
  BOOST_TEST((error_of(resolve(fake, "other/app")).code == ExitCode::not_found));
  BOOST_TEST((error_of(resolve(fake, "localhost/nginx:1.25")).code == ExitCode::not_found));
}

BOOST_AUTO_TEST_CASE(references_are_names_and_repository_digests) {
  FakeContainersStorage fake;
  const std::string id = fake.add_image({diff_id("a")}, {"localhost/app:latest", "localhost/app:v2"});
  const std::string untagged = fake.add_image({diff_id("b")});
  auto store = open_fake_storage(fake);
  auto references = store.references();
  BOOST_TEST_REQUIRE(references.has_value());
  BOOST_TEST(references->at(id) == (std::vector<std::string>{"localhost/app:latest", "localhost/app:v2",
                                                             "localhost/app@" + fake.image(id).digest}));
  BOOST_TEST(!references->contains(untagged));
  auto ids = store.image_ids();
  BOOST_TEST_REQUIRE(ids.has_value());
  BOOST_TEST(ids->size() == 2u);
  BOOST_TEST(*store.has_image(id));
  BOOST_TEST(!*store.has_image(std::string(64, 'e')));
  BOOST_TEST(!*store.has_image("../x"));
}

BOOST_AUTO_TEST_CASE(a_container_stacks_its_writable_layer_without_an_init_layer) {
  FakeContainersStorage fake;
  const std::vector<std::string> diffs = {diff_id("a"), diff_id("b")};
  const std::string image = fake.add_image(diffs, {"localhost/app:latest"});
  const std::string id = fake.add_container("web", image);
  auto store = open_fake_storage(fake);
  auto container = store.container(id);
  BOOST_TEST_REQUIRE(container.has_value());
  BOOST_TEST(container->name == "web");
  BOOST_TEST(container->image_id == "sha256:" + image);
  BOOST_TEST(container->image_name == "localhost/app:latest");
  BOOST_TEST(container->state == "unknown");
  BOOST_TEST(container->mounts.empty());
  auto own = store.container_layers(id);
  BOOST_TEST_REQUIRE(own.has_value());
  BOOST_TEST(!own->init.has_value());
  BOOST_TEST(own->parent_chain_id == chain_ids(diffs).back());

  for (const std::string& reference : {std::string("web"), std::string("/web"), id, id.substr(0, 8)}) {
    auto stack = resolve_container(store, reference);
    BOOST_TEST_REQUIRE(stack.has_value(), reference << ": " << stack.error().message());
    BOOST_TEST_REQUIRE(stack->layers.size() == 3u);
    BOOST_TEST((stack->layers[2].role == LayerRole::writable));
    BOOST_TEST(stack->layers[2].dir == "overlay/" + sha256_hex("layer web") + "/diff");
    BOOST_TEST(stack->layers[2].cache_id == own->mount_id);
    BOOST_TEST(stack->layers[2].tar_split.empty());
    BOOST_TEST((stack->layers[1].role == LayerRole::image));
  }
  BOOST_TEST(resolve_any(store, "web")->is_container());
  BOOST_TEST(!resolve_any(store, "app")->is_container());
}

BOOST_AUTO_TEST_CASE(a_container_on_another_layer_is_corrupt) {
  FakeContainersStorage fake;
  const std::string image = fake.add_image({diff_id("a"), diff_id("b")});
  const std::string other = fake.add_image({diff_id("c")});
  const std::string id = fake.add_container("web", image);
  fake.layer(fake.containers[0].layer).parent = fake.image(other).top_layer;
  fake.write();
  auto store = open_fake_storage(fake);
  BOOST_TEST((store.container_layers(id).error().code == ExitCode::corrupt));
  BOOST_TEST((error_of(resolve_container(store, "web")).code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(malformed_catalogues_are_corrupt_and_name_the_file) {
  FakeContainersStorage fake;
  const std::string id = fake.add_image({diff_id("a"), diff_id("b")}, {"localhost/app:latest"});
  BOOST_TEST_REQUIRE(resolve(fake, "app").has_value());

  fake.root.add_file("overlay-images/images.json", R"({"id":"x"})");
  auto wrong_type = error_of(resolve(fake, "app"));
  BOOST_TEST((wrong_type.code == ExitCode::corrupt));
  BOOST_TEST(wrong_type.object == "/fake/graphroot/overlay-images/images.json");
  fake.root.add_file("overlay-images/images.json", "[{");
  BOOST_TEST((error_of(resolve(fake, "app")).code == ExitCode::corrupt));
  fake.root.add_file("overlay-images/images.json", R"([{"id":"../../etc","names":["localhost/app:latest"]}])");
  BOOST_TEST(mentions(error_of(resolve(fake, "app")), "is not 64 lowercase hex"));
  fake.root.add_file("overlay-images/images.json", R"([{"id":")" + id + R"(","names":"localhost/app:latest"}])");
  BOOST_TEST((error_of(resolve(fake, "app")).code == ExitCode::corrupt));
  fake.write();

  fake.image(id).top_layer = "../x";
  fake.write();
  BOOST_TEST((error_of(resolve(fake, "app")).code == ExitCode::corrupt));
  fake = FakeContainersStorage();
  fake.add_image({diff_id("a"), diff_id("b")}, {"localhost/app:latest"});
  fake.layers[0].id = "../x";
  fake.write();
  auto bad_layer = error_of(resolve(fake, "app"));
  BOOST_TEST((bad_layer.code == ExitCode::corrupt));
  BOOST_TEST(bad_layer.object == "/fake/graphroot/overlay-layers/layers.json");
  fake.root.add_file("overlay-layers/layers.json", "{}");
  BOOST_TEST((error_of(resolve(fake, "app")).code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(a_store_reads_each_catalogue_once) {
  FakeContainersStorage fake;
  const std::string id = fake.add_image({diff_id("a"), diff_id("b")}, {"localhost/app:latest"});
  auto store = open_fake_storage(fake);
  BOOST_TEST_REQUIRE(resolve_image(store, "app").has_value());
  fake.root.add_file("overlay-images/images.json", "[{");
  fake.root.add_file("overlay-layers/layers.json", "[{");
  auto again = resolve_image(store, "app");
  BOOST_TEST_REQUIRE(again.has_value(), again.error().message());
  BOOST_TEST(again->image_id == "sha256:" + id);
  BOOST_TEST(again->layers.size() == 2u);
  BOOST_TEST((error_of(resolve(fake, "app")).code == ExitCode::corrupt));
}

BOOST_AUTO_TEST_CASE(a_catalogue_larger_than_a_read_is_streamed_whole) {
  FakeContainersStorage fake;
  const std::string long_name = "localhost/" + std::string(700 << 10, 'x') + ":latest";
  for (int i = 0; i < 300; ++i)
    fake.add_container("c" + std::to_string(i), fake.add_image({diff_id("base" + std::to_string(i))}));
  const std::string id = fake.add_image({diff_id("a"), diff_id("b")}, {long_name, "localhost/app:latest"});
  auto store = open_fake_storage(fake);
  auto image = resolve_image(store, "app");
  BOOST_TEST_REQUIRE(image.has_value(), image.error().message());
  BOOST_TEST(image->image_id == "sha256:" + id);
  BOOST_TEST(image->layers.size() == 2u);
  auto references = store.references();
  BOOST_TEST_REQUIRE(references.has_value());
  const auto& names = references->at(id);
  BOOST_TEST(names.size() == 4u);
  BOOST_TEST((std::find(names.begin(), names.end(), long_name) != names.end()));
  auto containers = store.container_ids();
  BOOST_TEST_REQUIRE(containers.has_value());
  BOOST_TEST(containers->size() == 300u);
}

BOOST_AUTO_TEST_CASE(a_catalogue_is_checked_entry_by_entry_after_its_json) {
  FakeContainersStorage fake;
  fake.add_image({diff_id("a"), diff_id("b")}, {"localhost/app:latest"});
  const std::string layers = "/fake/graphroot/overlay-layers/layers.json";
  const std::string images = "/fake/graphroot/overlay-images/images.json";

  fake.root.add_file("overlay-layers/layers.json", " \n\t ");
  BOOST_TEST(mentions(error_of(resolve(fake, "app")), "is not in " + layers));
  fake.write();
  fake.root.add_file("overlay-images/images.json", " \n ");
  BOOST_TEST((error_of(resolve(fake, "app")).code == ExitCode::not_found));
  fake.write();

  auto text = *fake.root.read_file("overlay-layers/layers.json", 1 << 20);
  fake.root.add_file("overlay-layers/layers.json", text + " ]");
  auto extra = error_of(resolve(fake, "app"));
  BOOST_TEST(extra.object == layers);
  BOOST_TEST(extra.problem.starts_with("malformed JSON: "), extra.problem);
  fake.root.add_file("overlay-layers/layers.json", "[7," + text.substr(1, text.size() - 2) + ",{\"id\":7}");
  BOOST_TEST(error_of(resolve(fake, "app")).problem.starts_with("malformed JSON: "));
  fake.root.add_file("overlay-layers/layers.json", "[7," + text.substr(1));
  auto not_object = error_of(resolve(fake, "app"));
  BOOST_TEST(not_object.object == layers);
  BOOST_TEST(not_object.problem == "entry 0: not a JSON object");
  const std::string first = fake.layers[0].id;
  fake.root.add_file("overlay-layers/layers.json",
                     text.substr(0, text.size() - 1) + R"(,{"id":")" + first + R"("},{"id":"../x"}])");
  auto twice = error_of(resolve(fake, "app"));
  BOOST_TEST(twice.problem == "entry 2 (" + first + "): the layer ID is listed twice");
  fake.root.add_file("overlay-layers/layers.json",
                     text.substr(0, text.size() - 1) + R"(,{"id":"../x"},{"id":")" + first + R"("}])");
  BOOST_TEST(mentions(error_of(resolve(fake, "app")), "entry 2: \"id\" \"../x\" is not 64 lowercase hex"));
  fake.write();

  text = *fake.root.read_file("overlay-images/images.json", 1 << 20);
  fake.root.add_file("overlay-images/images.json",
                     text.substr(0, text.size() - 1) + R"(,{"id":")" + std::string(64, 'e') +
                         R"(","names":["localhost/app:latest"],"big-data-names":{"a":1}}])");
  auto type = error_of(resolve(fake, "app"));
  BOOST_TEST(type.object == images);
  BOOST_TEST(type.problem == "entry 1 (" + std::string(64, 'e') + "): \"big-data-names\" is not an array");
}

BOOST_AUTO_TEST_CASE(a_layer_chain_that_is_not_the_configs_is_corrupt) {
  FakeContainersStorage fake;
  const std::vector<std::string> diffs = {diff_id("a"), diff_id("b"), diff_id("c")};
  const std::string id = fake.add_image(diffs);
  auto& base = fake.layers[0];
  auto& top = fake.layers[2];

  top.diff_digest = diff_id("other");
  fake.write();
  auto mismatch = error_of(resolve(fake, id));
  BOOST_TEST((mismatch.code == ExitCode::corrupt));
  BOOST_TEST(mismatch.problem.find("diff-digest") != std::string::npos);
  top.diff_digest = diffs[2];

  base.parent = top.id;
  fake.write();
  auto loop = error_of(resolve(fake, id));
  BOOST_TEST((loop.code == ExitCode::corrupt));
  BOOST_TEST(loop.problem.find("loop") != std::string::npos);
  base.parent.clear();

  fake.layers[1].parent.clear();
  fake.write();
  BOOST_TEST(mentions(error_of(resolve(fake, id)), "diff_ids"));
  fake.layers[1].parent = base.id;
  fake.layers[1].diff_digest = "sha256:short";
  fake.write();
  BOOST_TEST((error_of(resolve(fake, id)).code == ExitCode::corrupt));
  fake.layers[1].diff_digest = diffs[1];
  fake.write();
  BOOST_TEST_REQUIRE(resolve(fake, id).has_value());

  fake.root.remove("overlay/" + top.id + "/diff");
  BOOST_TEST((error_of(resolve(fake, id)).code == ExitCode::not_found));
}

BOOST_AUTO_TEST_CASE(a_chain_deeper_than_overlayfs_stacks_is_corrupt) {
  FakeContainersStorage fake;
  const std::string id = fake.add_image({diff_id("a")});
  std::string parent = fake.image(id).top_layer;
  for (int i = 0; i < 501; ++i) {
    const std::string layer = sha256_hex("deep " + std::to_string(i));
    fake.layers.push_back({layer, parent, diff_id("deep " + std::to_string(i))});
    parent = layer;
  }
  fake.image(id).top_layer = parent;
  fake.write();
  auto deep = error_of(resolve(fake, id));
  BOOST_TEST((deep.code == ExitCode::corrupt));
  BOOST_TEST(deep.problem.find("deeper than 500") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_tampered_config_is_corrupt) {
  FakeContainersStorage fake;
  const std::string id = fake.add_image({diff_id("a")});
  fake.root.add_file("overlay-images/" + id + "/" + big_data_file_name("sha256:" + id),
                     R"({"rootfs":{"type":"layers","diff_ids":[]}})");
  auto tampered = error_of(resolve(fake, id));
  BOOST_TEST((tampered.code == ExitCode::corrupt));
  BOOST_TEST(tampered.problem.find("digest mismatch") != std::string::npos);
  fake.root.remove("overlay-images/" + id + "/" + big_data_file_name("sha256:" + id));
  BOOST_TEST((error_of(resolve(fake, id)).code == ExitCode::not_found));
}

BOOST_AUTO_TEST_CASE(libpod_states_are_named_in_dockers_words) {
  const std::vector<std::string> names{"unknown", "created", "created", "running", "exited",
                                       "paused",  "exited",  "removing", "running"};
  for (std::int64_t status = 0; status < 9; ++status)
    BOOST_TEST(libpod_state_name(status).value_or("none") == names[static_cast<size_t>(status)], "state " << status);
  BOOST_TEST(!libpod_state_name(-1).has_value());
  BOOST_TEST(!libpod_state_name(9).has_value());

  const std::string key = "ctr/" + ctr_id + "/state";
  auto exited = parse_libpod_state(R"({"state":6,"runDir":"/run/x","startedTime":"0001-01-01T00:00:00Z"})", db, key);
  BOOST_TEST_REQUIRE(exited.has_value());
  BOOST_TEST(*exited == "exited");
  for (const std::string bad : {R"({"state":6:)", R"({"state":"6"})", R"({"state":9})", R"({"state":1.5})",
                                R"({"state":-1})", R"({"runDir":"/run/x"})", R"([6])", ""}) {
    auto state = parse_libpod_state(bad, db, key);
    BOOST_TEST_REQUIRE(!state.has_value(), "accepted: " << bad);
    BOOST_TEST((state.error().code == ExitCode::corrupt));
    BOOST_TEST(state.error().object == db);
    BOOST_TEST(state.error().problem.starts_with(key + ": "), state.error().problem);
  }
}

BOOST_AUTO_TEST_CASE(a_libpod_config_gives_named_volumes_and_binds) {
  const std::string named =
      R"([{"volumeName":"data","dest":"/vol","options":["rw","rprivate","nosuid","nodev","rbind"]},)"
      R"({"volumeName":"r","dest":"/ro","options":["ro","rprivate","rbind"]}])";
  const std::string mounts =
      "[" + system_mounts +
      R"(,{"destination":"/host","type":"bind","source":"/srv/x","options":["ro","rprivate","rbind"]})"
      R"(,{"destination":"/rw","type":"bind","source":"/srv/y","options":["rbind"]}])";
  auto config = parse_libpod_config(libpod_config(named, mounts), ctr_id, db, config_key);
  BOOST_TEST_REQUIRE(config.has_value(), config.error().message());
  BOOST_TEST_REQUIRE(config->volumes.size() == 2u);
  const VolumeMount& data = config->volumes[0];
  BOOST_TEST(data.type == "volume");
  BOOST_TEST(data.name == "data");
  BOOST_TEST(data.destination == "/vol");
  BOOST_TEST(data.read_write);
  BOOST_TEST(!data.in_store);
  BOOST_TEST(!config->volumes[1].read_write);
  BOOST_TEST_REQUIRE(config->binds.size() == 2u);
  BOOST_TEST(config->binds[0].type == "bind");
  BOOST_TEST(config->binds[0].name.empty());
  BOOST_TEST(config->binds[0].source == "/srv/x");
  BOOST_TEST(config->binds[0].destination == "/host");
  BOOST_TEST(!config->binds[0].read_write);
  BOOST_TEST(!config->binds[0].in_store);
  BOOST_TEST(config->binds[1].read_write);

  auto plain = parse_libpod_config(libpod_config("null", "[" + system_mounts + "]"), ctr_id, db, config_key);
  BOOST_TEST_REQUIRE(plain.has_value());
  BOOST_TEST(plain->volumes.empty());
  BOOST_TEST(plain->binds.empty());
}

BOOST_AUTO_TEST_CASE(a_malformed_libpod_config_is_corrupt_naming_the_db_and_key) {
  for (const std::string& name : std::vector<std::string>{"../x", "", ".hidden", "a/b", "-a", std::string(256, 'a')})
    BOOST_TEST(corrupt_config(R"([{"volumeName":")" + name + R"(","dest":"/vol"}])").problem.find("not a valid name") !=
               std::string::npos);
  corrupt_config(R"([{"volumeName":"a","dest":"vol"}])");
  corrupt_config(R"([{"volumeName":"a"}])");
  corrupt_config(R"([{"volumeName":7,"dest":"/vol"}])");
  corrupt_config(R"([{"volumeName":"a","dest":"/vol","options":"ro"}])");
  corrupt_config(R"([{"volumeName":"a","dest":"/vol","options":[1]}])");
  corrupt_config(R"(["a"])");
  corrupt_config(R"({"a":"/vol"})");
  corrupt_config("null", R"([{"destination":"relative","type":"bind","source":"/srv/x"}])");
  corrupt_config("null", R"([{"destination":"/x","type":"bind","source":["/srv/x"]}])");
  corrupt_config("null", R"([{"destination":"/x","type":7}])");
  corrupt_config("null", R"({"destination":"/x"})");
  BOOST_TEST(corrupt_config("null", "[1]").problem.find("non-object") != std::string::npos);

  auto other = parse_libpod_config(libpod_config("null", "[]", sha256_hex("other")), ctr_id, db, config_key);
  BOOST_TEST_REQUIRE(!other.has_value());
  BOOST_TEST(other.error().problem.find("\"id\"") != std::string::npos);
  for (const std::string& text :
       {std::string("{"), std::string("[]"), std::string(R"({"id":")") + ctr_id + R"(","spec":"x"})"}) {
    auto bad = parse_libpod_config(text, ctr_id, db, config_key);
    BOOST_TEST_REQUIRE(!bad.has_value(), "accepted: " << text);
    BOOST_TEST((bad.error().code == ExitCode::corrupt));
    BOOST_TEST(bad.error().object == db);
  }
}

BOOST_AUTO_TEST_CASE(only_a_local_volume_at_its_place_in_the_graph_root_is_in_the_store) {
  const std::string root = "/var/lib/containers/storage";
  auto local = located("data", volume_config("data", "local", root + "/volumes/data/_data"));
  BOOST_TEST_REQUIRE(local.has_value(), local.error().message());
  BOOST_TEST(local->in_store);
  BOOST_TEST(local->source == "volumes/data/_data");
  BOOST_TEST(located("data", volume_config("data", "", root + "/volumes/data/_data"))->in_store);

  for (const auto& [driver, mount_point] : std::vector<std::pair<std::string, std::string>>{
           {"nfs-plugin", root + "/volumes/data/_data"},
           {"local", "/srv/volumes/data/_data"},
           {"local", root + "/volumes/other/_data"},
           {"local", root + "/volumes/data/_data/../../../../../../etc"},
           {"local", ""}}) {
    auto elsewhere = located("data", volume_config("data", driver, mount_point));
    BOOST_TEST_REQUIRE(elsewhere.has_value(), elsewhere.error().message());
    BOOST_TEST(!elsewhere->in_store, driver << " " << mount_point);
    BOOST_TEST(elsewhere->source == mount_point);
  }

  for (const std::string& text : {volume_config("other", "local", root + "/volumes/data/_data"),
                                  std::string(R"({"name":"data","volumeDriver":1})"),
                                  std::string(R"({"name":"data","mountPoint":["/x"]})"), std::string("{"),
                                  std::string("[]")}) {
    auto bad = located("data", text);
    BOOST_TEST_REQUIRE(!bad.has_value(), "accepted: " << text);
    BOOST_TEST((bad.error().code == ExitCode::corrupt));
    BOOST_TEST(bad.error().object == db);
    BOOST_TEST(bad.error().problem.starts_with("vol/data/config: "), bad.error().problem);
  }
  BOOST_TEST(is_podman_name("a"));
  BOOST_TEST(is_podman_name(sha256_hex("anonymous")));
  BOOST_TEST(is_podman_name("my_vol.1-x"));
  BOOST_TEST(!is_podman_name("_x"));
  BOOST_TEST(!is_podman_name("a b"));
}

BOOST_AUTO_TEST_CASE(a_graph_root_without_libpods_database_has_no_libpod_records) {
  TempDir dir("libpod");
  auto root = BeneathRoot::open(dir.path().string());
  BOOST_TEST_REQUIRE(root.has_value());
  auto none = read_libpod_container(*root, ctr_id);
  BOOST_TEST_REQUIRE(none.has_value());
  BOOST_TEST(!none->has_value());
  BOOST_TEST((read_libpod_container(*root, "../x").error().code == ExitCode::corrupt));

  std::filesystem::create_directories(dir.path() / "libpod");
  std::filesystem::copy_file(std::filesystem::path(OVLMOUNT_TEST_DATA) / "bolt/meta.db",
                             dir.path() / "libpod/bolt_state.db");
  auto not_libpods = read_libpod_container(*root, ctr_id);
  BOOST_TEST_REQUIRE(not_libpods.has_value(), not_libpods.error().message());
  BOOST_TEST(!not_libpods->has_value());

  std::ofstream(dir.path() / "libpod/bolt_state.db", std::ios::trunc) << std::string(8192, 'x');
  auto garbage = read_libpod_container(*root, ctr_id);
  BOOST_TEST_REQUIRE(!garbage.has_value());
  BOOST_TEST((garbage.error().code == ExitCode::corrupt));
  BOOST_TEST(garbage.error().object == dir / "libpod/bolt_state.db");
}

BOOST_AUTO_TEST_CASE(a_root_that_is_no_graph_root_is_not_found) {
  FakeRootDir empty("/somewhere");
  auto missing = ContainersStorage::open(empty);
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST((missing.error().code == ExitCode::not_found));
  BOOST_TEST(missing.error().object == "/somewhere");
  FakeRootDir vfs;
  vfs.add_dir("vfs-images");
  vfs.add_dir("vfs-layers");
  BOOST_TEST(ContainersStorage::open(vfs).error().problem.find("vfs") != std::string::npos);
  FakeContainersStorage fresh;
  fresh.root.remove("overlay-images/images.json");
  auto store = open_fake_storage(fresh);
  BOOST_TEST(store.image_ids()->empty());
  BOOST_TEST(store.container_ids()->empty());
}

BOOST_AUTO_TEST_SUITE_END()
