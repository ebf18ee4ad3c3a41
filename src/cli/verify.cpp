// Why: see verify.hpp. Resolution already checks the whole metadata chain (it refuses to
// mount anything that does not verify), so level 1 is resolution itself, reported as a result
// rather than an error; level 2 rebuilds every image layer's tar stream from its tar-split, or reads
// its blob where the store keeps none (containerd), one layer per core at a time.
#include "ovlmount/cli/verify.hpp"

#include "ovlmount/core/json_output.hpp"
#include "ovlmount/core/parallel.hpp"
#include "ovlmount/forensics/blob_verify.hpp"
#include "ovlmount/forensics/layer_verify.hpp"
#include "ovlmount/store/resolver.hpp"
#include "ovlmount/store/stores.hpp"

#include <boost/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <ostream>

namespace ovlmount {
namespace {

namespace json = boost::json;

constexpr std::int64_t progress_threshold = 64 << 20;

// The outcome of one layer.
struct LayerReport {
  const Layer* layer = nullptr;
  std::string status;  // ok, failed, not covered, skipped
  std::string actual;
  std::uint64_t bytes = 0;
  std::uint64_t files = 0;
  std::vector<FileProblem> problems;
};

// Verifies one layer; progress (on a terminal, for big layers) goes to `err` under `err_mutex`.
LayerReport check_layer(const RootDir& root, const Layer& layer, size_t index, size_t count, bool quick,
                        std::ostream& err, std::mutex& err_mutex) {
  LayerReport report;
  report.layer = &layer;
  if (layer.role != LayerRole::image || (layer.tar_split.empty() && layer.blob.empty())) {
    report.status = "not covered";
    if (auto size = tree_size(root, layer.dir)) {
      report.files = size->files;
      report.bytes = size->bytes;
    } else {
      report.problems.push_back({"", size.error().message()});
    }
    return report;
  }
  if (quick) {
    report.status = "skipped";
    return report;
  }
  VerifyProgress progress;
  const bool show_progress = ::isatty(STDERR_FILENO) && layer.size > progress_threshold;
  if (show_progress)
    progress = [&err, &err_mutex, index, count](std::uint64_t done, std::uint64_t total) {
      const std::lock_guard lock(err_mutex);
      err << "\rverify: layer " << index << "/" << count << ": " << (done >> 20) << " of " << (total >> 20) << " MiB"
          << std::flush;
    };
  auto result = layer.tar_split.empty() ? verify_layer_blob(root, layer, progress) : verify_layer(root, layer, progress);
  if (show_progress) {
    const std::lock_guard lock(err_mutex);
    err << "\r\033[K" << std::flush;
  }
  if (!result) {
    report.status = "failed";
    report.problems.push_back({"", result.error().message()});
    return report;
  }
  report.status = result->ok ? "ok" : "failed";
  report.actual = result->actual;
  report.bytes = result->bytes;
  report.files = result->entries;
  report.problems = std::move(result->problems);
  return report;
}

// check_layer of every layer, one layer per core at a time: a layer's tar stream is one
// sequential hash, so the work splits by layer.
std::vector<LayerReport> check_layers(const RootDir& root, const std::vector<Layer>& layers, bool quick,
                                      std::ostream& err) {
  std::vector<LayerReport> reports(layers.size());
  std::mutex err_mutex;
  for_each_index(layers.size(), worker_count(layers.size()), [&](size_t i) {
    reports[i] = check_layer(root, layers[i], i + 1, layers.size(), quick, err, err_mutex);
  });
  return reports;
}

void print_json(const std::string& reference, const Stack* stack, const std::optional<Error>& metadata_problem,
                const std::vector<LayerReport>& reports, bool ok, bool quick, std::ostream& out) {
  json::array layers;
  for (size_t i = 0; i < reports.size(); ++i) {
    const LayerReport& report = reports[i];
    json::array problems;
    for (const FileProblem& problem : report.problems)
      problems.push_back(json::object{{"path", problem.path}, {"problem", problem.problem}});
    layers.push_back(json::object{{"index", i + 1},
                                  {"role", role_name(report.layer->role)},
                                  {"diff_id", string_or_null(report.layer->diff_id)},
                                  {"cache_id", report.layer->cache_id},
                                  {"status", report.status},
                                  {"actual", string_or_null(report.actual)},
                                  {"bytes", report.bytes},
                                  {"files", report.files},
                                  {"problems", std::move(problems)}});
  }
  out << json::serialize(json::object{
             {"reference", reference},
             {"kind", stack && stack->is_container() ? "container" : "image"},
             {"image_id", stack ? json::value(stack->image_id) : json::value(nullptr)},
             {"ok", ok},
             {"level", quick ? "metadata" : "content"},
             {"metadata", json::object{{"ok", !metadata_problem},
                                       {"problem", metadata_problem ? json::value(metadata_problem->message())
                                                                    : json::value(nullptr)}}},
             {"layers", std::move(layers)}})
      << "\n";
}

void print_text(const std::optional<Error>& metadata_problem, const std::vector<LayerReport>& reports, bool ok,
                std::ostream& out) {
  out << "METADATA " << (metadata_problem ? "failed: " + metadata_problem->message() : std::string("ok")) << "\n";
  for (size_t i = 0; i < reports.size(); ++i) {
    const LayerReport& report = reports[i];
    out << "LAYER " << i + 1 << " " << role_name(report.layer->role) << " " << report.layer->cache_id.substr(0, 12)
        << " " << report.status;
    if (report.status == "ok" || report.status == "failed")
      out << " " << report.files << " entries, " << report.bytes << " bytes"
          << (report.actual.empty() ? "" : ", sha256 " + report.actual.substr(7, 12));
    if (report.status == "not covered")
      out << (report.layer->role == LayerRole::image ? ": the store keeps no tar-split or layer blob to check it with"
                                                      : " by any digest")
          << ": " << report.files << " files, " << report.bytes << " bytes";
    out << "\n";
    for (const FileProblem& problem : report.problems)
      out << "  " << (problem.path.empty() ? "" : escape(problem.path) + ": ") << escape(problem.problem) << "\n";
  }
  out << (ok ? "verify: ok\n" : "verify: FAILED\n");
}

}  // namespace

Result<void> run_verify(const Stores& stores, const std::string& reference, bool json, bool quick,
                        std::ostream& out, std::ostream& err) {
  auto found = stores.resolve(reference, Lookup::any);
  const RootDir* data_root = found ? found->store->root : nullptr;
  Result<Stack> stack = found ? Result<Stack>(std::move(found->stack)) : Result<Stack>(found.error());
  if (!stack) {
    if (stack.error().code != ExitCode::corrupt) return stack.error();
    if (json) print_json(reference, nullptr, stack.error(), {}, false, quick, out);
    else print_text(stack.error(), {}, false, out);
    return stack.error();
  }

  const std::vector<LayerReport> reports = check_layers(*data_root, stack->layers, quick, err);
  const bool ok = std::none_of(reports.begin(), reports.end(),
                               [](const LayerReport& report) { return report.status == "failed"; });
  if (json) print_json(reference, &*stack, std::nullopt, reports, ok, quick, out);
  else print_text(std::nullopt, reports, ok, out);
  if (ok) return {};
  size_t failed = 0;
  for (const LayerReport& report : reports) failed += report.status == "failed";
  return corrupt(reference, std::to_string(failed) + " of " + std::to_string(reports.size()) +
                                " layers failed verification (see above)");
}

}  // namespace ovlmount
