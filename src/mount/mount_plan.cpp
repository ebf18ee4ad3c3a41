// Why: see mount_plan.hpp. overlayfs stacks lowerdirs from the right: the leftmost is the top
// layer, so the resolver's bottom-first list is reversed here.
#include "ovlmount/mount/mount_plan.hpp"

#include <sys/mount.h>

namespace ovlmount {
namespace {

std::string join_overlay_data(const std::vector<std::string>& lowers, const std::string& upper,
                              const std::string& work) {
  std::string data = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) {
    if (i) data += ':';
    data += escape_overlay_path(lowers[i]);
  }
  if (!upper.empty()) data += ",upperdir=" + escape_overlay_path(upper) + ",workdir=" + escape_overlay_path(work);
  return data;
}

std::string flag_options(const MountPlan& plan) {
  return std::string(plan.read_only() ? "ro" : "rw") + (plan.devices ? ",nosuid" : ",nosuid,nodev");
}

}  // namespace

unsigned long MountPlan::flags() const {
  unsigned long flags = devices ? MS_NOSUID : MS_NOSUID | MS_NODEV;
  if (read_only()) flags |= MS_RDONLY;
  return flags;
}

std::vector<std::string> MountPlan::lower_paths() const {
  std::vector<std::string> paths;
  paths.reserve(layer_dirs.size() + 1);
  for (const auto& dir : layer_dirs) paths.push_back(data_root + "/" + dir);
  if (!empty_lower.empty()) paths.push_back(empty_lower);
  return paths;
}

MountPlan plan_mount(const Stack& image, const std::string& data_root, MountRequest request) {
  MountPlan plan;
  plan.kind = image.kind;
  plan.reference = image.reference;
  plan.image_id = image.image_id;
  if (image.container) plan.container_id = image.container->id;
  plan.data_root = data_root;
  plan.volume_root = data_root;
  plan.target = std::move(request.target);
  for (auto layer = image.layers.rbegin(); layer != image.layers.rend(); ++layer)
    plan.layer_dirs.push_back(layer->dir);
  plan.upper = std::move(request.upper);
  plan.work = std::move(request.work);
  plan.scratch = request.scratch;
  if (plan.read_only() && plan.layer_dirs.size() == 1) plan.empty_lower = std::move(request.empty_lower);
  return plan;
}

BindPlan plan_bind(const MountPlan& plan, const VolumeMount& volume) {
  return {volume.source, volume.in_store, volume.destination,
          plan.target == "/" ? volume.destination : plan.target + volume.destination};
}

std::string escape_overlay_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (const char c : path) {
    if (c == '\\' || c == ':' || c == ',') out += '\\';
    out += c;
  }
  return out;
}

Result<std::string> overlay_data(const MountPlan& plan, const std::vector<std::string>& lowers,
                                 const std::string& upper, const std::string& work) {
  std::string data = join_overlay_data(lowers, upper, work);
  if (data.size() > max_mount_data)
    return mount_error(plan.target, "overlay mount data for " + std::to_string(lowers.size()) +
                                        " layers is " + std::to_string(data.size()) +
                                        " bytes, over the kernel's one-page limit of " +
                                        std::to_string(max_mount_data));
  return data;
}

std::string display_options(const MountPlan& plan) {
  return flag_options(plan) + "," + join_overlay_data(plan.lower_paths(), plan.upper, plan.work);
}

}  // namespace ovlmount
