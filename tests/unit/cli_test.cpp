// Why: the command line is the user's contract (docs/usage.md); every form it documents
// parses, and mistakes are usage errors.
#include "ovlmount/cli/cli.hpp"

#include <boost/test/unit_test.hpp>

#include <initializer_list>

using namespace ovlmount;

namespace {

Result<Invocation> parse(std::initializer_list<const char*> words) {
  std::vector<const char*> argv = {"ovlmount"};
  argv.insert(argv.end(), words.begin(), words.end());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

bool is_usage_error(const Result<Invocation>& result) {
  return !result.has_value() && result.error().code == ExitCode::usage;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(image_and_target_alone_mean_mount) {
  auto invocation = parse({"nginx", "/mnt/root"});
  BOOST_TEST_REQUIRE(invocation.has_value());
  BOOST_TEST((invocation->command == Command::mount));
  BOOST_TEST(invocation->mount.image == "nginx");
  BOOST_TEST(invocation->mount.target == "/mnt/root");
  BOOST_TEST(invocation->state_dir == "/run/ovlmount");
  BOOST_TEST(invocation->stores.data_root.empty());
  BOOST_TEST(invocation->stores.host_root == "/");
}

BOOST_AUTO_TEST_CASE(global_options_stand_anywhere) {
  for (auto words : {std::initializer_list<const char*>{"--data-root", "/ev", "--state-dir", "/tmp/s/", "mount", "a", "/m"},
                     std::initializer_list<const char*>{"mount", "a", "/m", "--data-root=/ev", "--state-dir=/tmp/s"}}) {
    auto invocation = parse(words);
    BOOST_TEST_REQUIRE(invocation.has_value());
    BOOST_TEST(invocation->stores.data_root == "/ev");
    BOOST_TEST(invocation->state_dir == "/tmp/s");
  }
}

BOOST_AUTO_TEST_CASE(every_documented_form_parses) {
  auto writable = parse({"mount", "--upper", "/u", "--work", "/w", "nginx", "/mnt/rw"});
  BOOST_TEST(writable->mount.upper == "/u");
  BOOST_TEST(writable->mount.work == "/w");
  BOOST_TEST(parse({"mount", "--writable", "--dry-run", "a", "/m"})->mount.writable);
  BOOST_TEST(parse({"resolve", "--json", "nginx"})->json);
  BOOST_TEST((parse({"list"})->command == Command::list));
  BOOST_TEST(parse({"umount", "--all"})->umount.all);
  BOOST_TEST(parse({"umount", "--force", "--lazy", "/m"})->umount.force);
  BOOST_TEST((parse({"cleanup"})->command == Command::cleanup));
  BOOST_TEST((parse({"--help"})->command == Command::help));
  BOOST_TEST((parse({"--version"})->command == Command::version));

  auto container = parse({"container", "--volumes", "--host-binds", "--writable", "web", "/mnt/web"});
  BOOST_TEST_REQUIRE(container.has_value());
  BOOST_TEST((container->mount.kind == SourceKind::container));
  BOOST_TEST((container->mount.volumes && container->mount.host_binds && container->mount.writable));
  BOOST_TEST(container->mount.image == "web");
  auto all = parse({"container", "--all", "/mnt/all"});
  BOOST_TEST_REQUIRE(all.has_value());
  BOOST_TEST((all->mount.all && all->mount.target == "/mnt/all"));
  BOOST_TEST((parse({"images", "--json"})->command == Command::images));
  BOOST_TEST((parse({"containers"})->command == Command::containers));
  BOOST_TEST(parse({"inspect", "--json", "web"})->image == "web");
  BOOST_TEST(parse({"verify", "--quick", "web"})->quick);
  BOOST_TEST(parse({"diff", "--bodyfile", "web"})->bodyfile);
  auto which = parse({"which", "web", "/etc/passwd"});
  BOOST_TEST_REQUIRE(which.has_value());
  BOOST_TEST((which->image == "web" && which->path == "/etc/passwd"));
  BOOST_TEST(parse({"owner", "--json", std::string(64, 'a').c_str()})->json);
}

BOOST_AUTO_TEST_CASE(mistakes_are_usage_errors) {
  BOOST_TEST(is_usage_error(parse({})));
  BOOST_TEST(is_usage_error(parse({"--bogus", "a", "/m"})));
  BOOST_TEST(is_usage_error(parse({"--data", "/x", "a", "/m"})));
  BOOST_TEST(is_usage_error(parse({"mount", "a"})));
  BOOST_TEST(is_usage_error(parse({"list", "--all"})));
  BOOST_TEST(is_usage_error(parse({"mount", "--json", "a", "/m"})));
  BOOST_TEST(is_usage_error(parse({"resolve"})));
  BOOST_TEST(is_usage_error(parse({"umount"})));
  BOOST_TEST(is_usage_error(parse({"umount", "--all", "/m"})));
  BOOST_TEST(is_usage_error(parse({"frobnicate", "a", "b"})));
  BOOST_TEST(is_usage_error(parse({"--data-root"})));
  BOOST_TEST(is_usage_error(parse({"mount", "--upper", "/u", "a", "/m"})));
  BOOST_TEST(is_usage_error(parse({"mount", "--writable", "--upper", "/u", "--work", "/w", "a", "/m"})));
  BOOST_TEST(is_usage_error(parse({"mount", "--volumes", "a", "/m"})));
  BOOST_TEST(is_usage_error(parse({"container", "--host-binds", "a", "/m"})));
  BOOST_TEST(is_usage_error(parse({"container", "--all", "a", "/m"})));
  BOOST_TEST(is_usage_error(parse({"images", "x"})));
  BOOST_TEST(is_usage_error(parse({"diff", "--json", "--bodyfile", "c"})));
  BOOST_TEST(is_usage_error(parse({"verify", "--bodyfile", "c"})));
  BOOST_TEST(is_usage_error(parse({"which", "c"})));
  BOOST_TEST(is_usage_error(parse({"list", "--quick"})));
}

BOOST_AUTO_TEST_CASE(help_documents_every_exit_code) {
  const std::string help = help_text();
  for (const char* line : {"0  success", "1  other failure", "2  usage error", "3  not found", "4  corrupt", "5  mount or unmount failed"})
    BOOST_TEST(help.find(line) != std::string::npos, line);
}

BOOST_AUTO_TEST_SUITE_END()
