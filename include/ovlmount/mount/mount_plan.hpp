// Why: what ovlmount is about to do to the kernel is plain data, built by a pure function,
// printed by `--dry-run`, recorded in the registry and executed by the Mounter. All the rules
// that decide a mount (layer order, read-only flags, the extra empty lower of a one-layer
// image, the one-page limit of mount data, escaping) live here and are unit-tested without root.
#pragma once

#include "ovlmount/core/error.hpp"
#include "ovlmount/store/resolver.hpp"

#include <string>
#include <vector>

namespace ovlmount {

// The mount source ovlmount gives every overlay it makes; mountinfo shows it, so ovlmount's
// mounts can be told from others.
inline constexpr std::string_view mount_source = "ovlmount";

// The longest mount data the legacy mount(2) call takes: one page, with its terminating NUL.
inline constexpr size_t max_mount_data = 4095;

// Where and how the caller wants the image mounted.
struct MountRequest {
  std::string target;       // absolute, canonical
  std::string upper;        // absolute; empty for a read-only mount
  std::string work;         // absolute; set exactly when `upper` is
  bool scratch = false;     // upper/work were created by ovlmount and go away at umount
  std::string empty_lower;  // an empty directory, stacked below a one-layer read-only image
};

// One read-only bind mount of a container's volume inside the overlay.
struct BindPlan {
  std::string source;       // in_store: relative to the plan's volume_root; else an absolute host path
  bool in_store = false;
  std::string destination;  // absolute inside the container, "/vol"
  std::string target;       // absolute on the host: the overlay target + destination
};

// One overlay mount, fully decided.
struct MountPlan {
  SourceKind kind = SourceKind::image;
  std::string reference;
  std::string image_id;
  std::string container_id;             // 64 hex when kind is container
  std::string store;                    // the label of the store it comes from ("docker", ...)
  std::string data_root;                // absolute
  std::string volume_root;              // absolute: what in-store bind sources are relative to
  std::string target;                   // absolute
  std::vector<std::string> layer_dirs;  // relative to data_root, top layer first
  std::string upper;                    // absolute, empty when read-only
  std::string work;
  bool scratch = false;
  bool devices = false;     // device nodes allowed (no MS_NODEV): `run --dev`
  std::string empty_lower;  // set when a one-layer read-only image needs a second lower
  std::vector<BindPlan> binds;  // volume binds, parents before the binds nested in them

  bool read_only() const { return upper.empty(); }

  // mount(2) flags: MS_RDONLY (when read-only) | MS_NOSUID | MS_NODEV (unless `devices`).
  unsigned long flags() const;

  // The layer dirs as absolute paths, top first (plus the empty lower, if any, last).
  std::vector<std::string> lower_paths() const;
};

// Builds the plan for mounting `stack` (found under `data_root`) as `request` asks, without
// volume binds.
MountPlan plan_mount(const Stack& stack, const std::string& data_root, MountRequest request);

// The bind of `volume` inside `plan`'s target.
BindPlan plan_bind(const MountPlan& plan, const VolumeMount& volume);

// Backslash-escapes the characters the kernel's legacy option parser splits on ('\', ':', ',').
std::string escape_overlay_path(std::string_view path);

// The filesystem-specific mount data "lowerdir=A:B[,upperdir=U,workdir=W]" for `plan`, with
// `lowers` standing for plan.lower_paths() (same count and order) and `upper`/`work` for its
// upper and work dirs. Fails with a mount error naming the target when the data exceeds one page.
Result<std::string> overlay_data(const MountPlan& plan, const std::vector<std::string>& lowers,
                                 const std::string& upper, const std::string& work);

// The full option string as mount(8) would show it: "ro,nosuid,nodev," + overlay data with
// absolute paths (no page limit applied; for display).
std::string display_options(const MountPlan& plan);

}  // namespace ovlmount
