// Why: ovlmount never writes inside a data root, and never lets a mount target, an upper dir,
// a state dir or an output file sit inside one (or one inside them). Every such check is the
// same comparison of canonical paths, done here once.
#pragma once

#include <string>

namespace ovlmount {

// Whether `path` is `dir` or below it; both absolute and canonical.
bool is_within(const std::string& path, const std::string& dir);

// Whether either of two absolute canonical paths is within the other.
bool paths_overlap(const std::string& a, const std::string& b);

// `path` made absolute (against the working dir) and lexically normal, without a trailing '/';
// symlinks are not resolved (the path need not exist).
std::string absolute_normal_path(const std::string& path);

// `path` made absolute with the symlinks of its existing part resolved (the rest need not
// exist), lexically normal, without a trailing '/'.
std::string resolved_path(const std::string& path);

}  // namespace ovlmount
