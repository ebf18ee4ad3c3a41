#include "support.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <cryptopp/sha.h>

extern char** environ;

namespace ovltest {

namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

std::string errno_text(int e) { return std::strerror(e); }

const char* getenv_nonempty(const char* name) {
    const char* v = std::getenv(name);
    return (v != nullptr && *v != '\0') ? v : nullptr;
}

std::string hex(const unsigned char* p, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

bool is_hex64(std::string_view s) {
    return s.size() == 64 &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// open() with O_NOATIME, falling back without it (not permitted for files we do not own unless root).
int open_noatime(int dirfd, const char* name, int flags) {
    int fd = ::openat(dirfd, name, flags | O_NOATIME | O_CLOEXEC);
    if (fd < 0 && errno == EPERM) fd = ::openat(dirfd, name, flags | O_CLOEXEC);
    return fd;
}

std::string read_fd(int fd) {
    std::string data;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("read: " + errno_text(errno));
        }
        if (n == 0) break;
        data.append(buf, static_cast<std::size_t>(n));
    }
    return data;
}

std::string read_memfd(int fd) {
    if (::lseek(fd, 0, SEEK_SET) < 0) return {};
    return read_fd(fd);
}

std::string unescape_mountinfo(std::string_view s) {
    auto oct = [](char c) { return c >= '0' && c <= '7'; };
    std::string r;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
            r += static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
            i += 3;
            continue;
        }
        r += s[i];
    }
    return r;
}

std::string canonical_or_same(const fs::path& p) {
    std::error_code ec;
    auto c = fs::canonical(p, ec);
    return ec ? p.lexically_normal().string() : c.string();
}

std::vector<std::string> base_env(const std::vector<std::string>& add) {
    std::vector<std::string> out;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view kv(*e);
        auto eq = kv.find('=');
        std::string_view name = kv.substr(0, eq);
        bool replaced = std::any_of(add.begin(), add.end(), [&](const std::string& a) {
            return a.compare(0, a.find('='), name) == 0 && a.find('=') == name.size();
        });
        if (!replaced) out.emplace_back(kv);
    }
    out.insert(out.end(), add.begin(), add.end());
    return out;
}

std::optional<Env> g_env;
std::string g_env_error;

void remove_docker_config() {
    if (g_env && !g_env->docker_config.empty()) remove_tree(g_env->docker_config);
}

}  // namespace

// ---- environment -----------------------------------------------------------------------

const Env& env() {
    if (g_env) return *g_env;
    if (!g_env_error.empty()) fail(g_env_error);
    auto bad = [](const std::string& msg) -> const Env& {
        g_env_error = "integration test environment: " + msg;
        fail(g_env_error);
    };
    const std::string how =
        " (run `bash tests/run.sh` as root from the repository root; it starts a private dockerd; or start one with "
        "`tests/docker/dockerd.sh start DIR` and export OVLMOUNT_TEST_DOCKER_HOST=unix://DIR/sock "
        "OVLMOUNT_TEST_DATA_ROOT=DIR/root)";
    if (::geteuid() != 0) return bad("the integration tests must run as root");
    Env e;
    const char* bin = getenv_nonempty("OVLMOUNT_BIN");
    if (bin == nullptr) return bad("OVLMOUNT_BIN is not set (ctest sets it to the built ovlmount binary)");
    if (::access(bin, X_OK) != 0) return bad(std::string("OVLMOUNT_BIN=") + bin + " is not executable");
    e.bin = bin;
    const char* host = getenv_nonempty("OVLMOUNT_TEST_DOCKER_HOST");
    if (host == nullptr) return bad("OVLMOUNT_TEST_DOCKER_HOST is not set" + how);
    e.docker_host = host;
    if (e.docker_host == "unix:///run/docker.sock" || e.docker_host == "unix:///var/run/docker.sock")
        return bad("OVLMOUNT_TEST_DOCKER_HOST names the host's docker daemon; the tests need a private one" + how);
    const char* root = getenv_nonempty("OVLMOUNT_TEST_DATA_ROOT");
    if (root == nullptr) return bad("OVLMOUNT_TEST_DATA_ROOT is not set" + how);
    e.data_root = root;
    if (canonical_or_same(e.data_root) == "/var/lib/docker")
        return bad("OVLMOUNT_TEST_DATA_ROOT is the host's /var/lib/docker; the tests need a private daemon" + how);
    const char* docker_bin = getenv_nonempty("OVLMOUNT_TEST_DOCKER");
    e.docker = docker_bin != nullptr ? docker_bin : "/usr/bin/docker";
    if (::access(e.docker.c_str(), X_OK) != 0) return bad(e.docker + " is not executable (install docker.io)");
    char tmpl[] = "/tmp/ovltest-dockercfg.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return bad(std::string("mkdtemp: ") + errno_text(errno));
    e.docker_config = tmpl;
    g_env = e;
    std::atexit(remove_docker_config);
    // The daemon must answer and be the one whose data root we were given.
    Result r = docker({"info", "--format", "{{.DockerRootDir}} {{.Driver}}"});
    if (r.code != 0) {
        g_env.reset();
        return bad("the docker daemon at " + e.docker_host + " does not answer: " + r.describe());
    }
    auto parts = split(trim(r.out), ' ');
    if (parts.size() != 2 || canonical_or_same(parts[0]) != canonical_or_same(e.data_root)) {
        g_env.reset();
        return bad("the daemon at " + e.docker_host + " uses data root '" + trim(r.out) +
                   "', not OVLMOUNT_TEST_DATA_ROOT=" + e.data_root);
    }
    if (parts[1] != "overlay2") {
        g_env.reset();
        return bad("the daemon at " + e.docker_host + " uses storage driver " + parts[1] + ", not overlay2");
    }
    return *g_env;
}

// ---- processes -------------------------------------------------------------------------

std::string Result::describe() const {
    std::ostringstream o;
    o << "`" << cmdline << "` -> exit " << code << "\n--- stdout (" << out.size() << " bytes):\n"
      << (out.size() > 4000 ? out.substr(0, 4000) + "..." : out) << "\n--- stderr:\n"
      << (err.size() > 4000 ? err.substr(0, 4000) + "..." : err);
    return o.str();
}

Process::Process(const std::vector<std::string>& argv, const RunOptions& opts) {
    if (argv.empty()) fail("Process: empty argv");
    for (const auto& a : argv) {
        if (!cmdline_.empty()) cmdline_ += ' ';
        cmdline_ += (a.find_first_of(" \t'\"\\$") == std::string::npos && !a.empty()) ? a : quote(a);
    }
    deadline_ = std::chrono::steady_clock::now() + opts.timeout;
    out_fd_ = ::memfd_create("stdout", MFD_CLOEXEC);
    err_fd_ = ::memfd_create("stderr", MFD_CLOEXEC);
    int in_fd = -1;
    if (out_fd_ < 0 || err_fd_ < 0) fail("memfd_create: " + errno_text(errno));
    if (!opts.input.empty()) {
        in_fd = ::memfd_create("stdin", MFD_CLOEXEC);
        if (in_fd < 0) fail("memfd_create: " + errno_text(errno));
        if (::write(in_fd, opts.input.data(), opts.input.size()) != static_cast<ssize_t>(opts.input.size()))
            fail("write stdin: " + errno_text(errno));
        ::lseek(in_fd, 0, SEEK_SET);
    } else {
        in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    // Everything the child needs is prepared before fork().
    std::vector<std::string> envs = base_env(opts.env_add);
    std::vector<char*> envp;
    for (auto& s : envs) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& s : args) argp.push_back(s.data());
    argp.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) fail("fork: " + errno_text(errno));
    if (pid == 0) {
        ::dup2(in_fd, 0);
        ::dup2(out_fd_, 1);
        ::dup2(err_fd_, 2);
        ::signal(SIGPIPE, SIG_DFL);
        ::execvpe(argp[0], argp.data(), envp.data());
        const char* m = "exec failed: ";
        (void)!::write(2, m, std::strlen(m));
        (void)!::write(2, argp[0], std::strlen(argp[0]));
        (void)!::write(2, "\n", 1);
        ::_exit(127);
    }
    ::close(in_fd);
    pid_ = pid;
}

Process::Process(Process&& o) noexcept
    : pid_(o.pid_), out_fd_(o.out_fd_), err_fd_(o.err_fd_), deadline_(o.deadline_),
      cmdline_(std::move(o.cmdline_)), waited_(o.waited_) {
    o.pid_ = -1;
    o.out_fd_ = o.err_fd_ = -1;
    o.waited_ = true;
}

Process::~Process() {
    if (!waited_ && pid_ > 0) {
        try {
            wait();
        } catch (...) {
        }
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
}

Result Process::wait() {
    if (waited_) fail("Process::wait called twice");
    waited_ = true;
    Result r;
    r.cmdline = cmdline_;
    int status = 0;
    bool timed_out = false;
    for (;;) {
        pid_t w = ::waitpid(pid_, &status, WNOHANG);
        if (w == pid_) break;
        if (w < 0 && errno != EINTR) fail("waitpid: " + errno_text(errno));
        if (std::chrono::steady_clock::now() > deadline_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (WIFEXITED(status))
        r.code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r.code = 128 + WTERMSIG(status);
    r.out = read_memfd(out_fd_);
    r.err = read_memfd(err_fd_);
    if (timed_out) r.err += "\n[killed by the test: timeout]";
    return r;
}

Result run(const std::vector<std::string>& argv, const RunOptions& opts) { return Process(argv, opts).wait(); }

Result ovl(const std::vector<std::string>& args, const RunOptions& opts) { return ovl_async(args, opts).wait(); }

Process ovl_async(const std::vector<std::string>& args, const RunOptions& opts) {
    std::vector<std::string> argv{env().bin};
    argv.insert(argv.end(), args.begin(), args.end());
    return Process(argv, opts);
}

Result docker(const std::vector<std::string>& args) {
    const Env& e = g_env ? *g_env : env();
    std::vector<std::string> argv{e.docker, "-H", e.docker_host};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions o;
    o.env_add = {"DOCKER_CONFIG=" + e.docker_config, "DOCKER_CLI_HINTS=false"};
    return run(argv, o);
}

std::string docker_ok(const std::vector<std::string>& args) {
    Result r = docker(args);
    if (r.code != 0) fail("docker failed: " + r.describe());
    return trim(r.out);
}

std::string trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        auto p = s.find(sep, start);
        out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
        if (p == std::string_view::npos) break;
        start = p + 1;
    }
    return out;
}

std::string quote(std::string_view s) {
    std::string r = "'";
    for (char c : s) {
        if (c == '\'')
            r += "'\\''";
        else
            r += c;
    }
    return r + "'";
}

// ---- files -----------------------------------------------------------------------------

TempDir::TempDir(std::string_view tag) {
    const char* t = getenv_nonempty("TMPDIR");
    std::string tmpl = std::string(t != nullptr ? t : "/tmp") + "/ovlt." + std::string(tag) + ".XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp " + tmpl + ": " + errno_text(errno));
    path_ = tmpl;
}

TempDir::~TempDir() {
    try {
        unmount_below(path_);
        remove_tree(path_);
    } catch (...) {
    }
}

void unmount_below(const fs::path& dir) {
    for (int round = 0; round < 5; ++round) {
        auto ms = mounts_below(dir);
        if (ms.empty()) return;
        // Deepest (and most recent) first.
        std::reverse(ms.begin(), ms.end());
        std::stable_sort(ms.begin(), ms.end(),
                         [](const MountEntry& a, const MountEntry& b) { return a.target.size() > b.target.size(); });
        for (const auto& m : ms) {
            if (::umount2(m.target.c_str(), 0) != 0) ::umount2(m.target.c_str(), MNT_DETACH);
        }
    }
}

namespace {
bool g_remove_ok = true;
int remove_cb(const char* path, const struct stat*, int flag, struct FTW*) {
    int rc = (flag == FTW_DP || flag == FTW_D) ? ::rmdir(path) : ::unlink(path);
    if (rc != 0 && errno != ENOENT) g_remove_ok = false;
    return 0;
}
std::mutex g_remove_mutex;
}  // namespace

bool remove_tree(const fs::path& dir) {
    std::lock_guard<std::mutex> lock(g_remove_mutex);
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) return errno == ENOENT;
    g_remove_ok = true;
    // FTW_MOUNT: never cross into another filesystem (a mount left below would otherwise be emptied).
    if (::nftw(dir.c_str(), remove_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0) return false;
    return g_remove_ok;
}

NestedDirs::NestedDirs(fs::path top, std::size_t levels) : top_(std::move(top)) {
    fs::create_directory(top_);
    int fd = ::open(top_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (std::size_t level = 1; fd >= 0 && level < levels; ++level) {
        const int sub = ::mkdirat(fd, "d", 0755) == 0 ? ::openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        ::close(fd);
        fd = sub;
    }
    if (fd < 0) throw std::runtime_error("cannot nest directories below " + top_.string() + ": " + std::strerror(errno));
    ::close(fd);
}

NestedDirs::~NestedDirs() { run({"rm", "-rf", "--one-file-system", top_.string()}); }

std::string read_file(const fs::path& p) {
    int fd = open_noatime(AT_FDCWD, p.c_str(), O_RDONLY);
    if (fd < 0) fail("open " + p.string() + ": " + errno_text(errno));
    std::string data;
    try {
        data = read_fd(fd);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    return data;
}

void write_file(const fs::path& p, std::string_view data) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!f) fail("write " + p.string() + " failed");
}

std::string sha256_hex(std::string_view data) {
    CryptoPP::SHA256 h;
    h.Update(reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
    unsigned char d[CryptoPP::SHA256::DIGESTSIZE];
    h.Final(d);
    return hex(d, sizeof d);
}

DataRootLock::DataRootLock() {
    std::string p = "/tmp/ovltest-" + sha256_hex(canonical_or_same(env().data_root)).substr(0, 16) + ".lock";
    fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) fail("open " + p + ": " + errno_text(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
        if (errno != EINTR) fail("flock " + p + ": " + errno_text(errno));
    }
}

DataRootLock::~DataRootLock() {
    if (fd_ >= 0) ::close(fd_);
}

void copy_data_root(const fs::path& dest) {
    DataRootLock lock;
    Result r = run({"cp", "-a", "--one-file-system", env().data_root, dest.string()});
    if (r.code != 0) fail("copying the data root failed: " + r.describe());
}

EvidenceCopy::EvidenceCopy(std::string_view tag) : t(tag), mnt(t / "fs"), root(mnt / "root") {
    fs::create_directories(mnt);
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", MS_STRICTATIME, "mode=0755") != 0)
        throw std::runtime_error("mounting a strictatime tmpfs failed: " + std::string(std::strerror(errno)));
    copy_data_root(root);
    auto m = mount_at(mnt);
    if (!m || m->has_option("relatime") || m->has_option("noatime"))
        throw std::runtime_error("the tmpfs is not strictatime: " + (m ? m->options : std::string("?")));
}

EvidenceCopy::~EvidenceCopy() {
    unmount_below(t / "mnt");
    ::umount2(mnt.c_str(), MNT_DETACH);
}

// ---- mount table -----------------------------------------------------------------------

bool MountEntry::has_option(std::string_view opt) const {
    for (const auto& o : split(options, ','))
        if (o == opt) return true;
    return false;
}

bool MountEntry::has_super_option_prefix(std::string_view prefix) const {
    for (const auto& o : split(super_options, ','))
        if (o.compare(0, prefix.size(), prefix) == 0) return true;
    return false;
}

std::vector<MountEntry> mountinfo() {
    std::ifstream f("/proc/self/mountinfo");
    if (!f) fail("cannot read /proc/self/mountinfo");
    std::vector<MountEntry> out;
    std::string line;
    while (std::getline(f, line)) {
        auto fields = split(line, ' ');
        auto dash = std::find(fields.begin(), fields.end(), "-");
        if (fields.size() < 10 || dash == fields.end() || fields.end() - dash < 3) continue;
        MountEntry m;
        m.id = std::stoi(fields[0]);
        m.parent = std::stoi(fields[1]);
        m.root = unescape_mountinfo(fields[3]);
        m.target = unescape_mountinfo(fields[4]);
        m.options = fields[5];
        m.fstype = *(dash + 1);
        m.source = unescape_mountinfo(*(dash + 2));
        if (dash + 3 < fields.end()) m.super_options = unescape_mountinfo(*(dash + 3));
        out.push_back(std::move(m));
    }
    return out;
}

std::optional<MountEntry> mount_at(const fs::path& target) {
    std::string t = canonical_or_same(target);
    std::optional<MountEntry> found;
    for (auto& m : mountinfo())
        if (m.target == t) found = m;
    return found;
}

std::vector<MountEntry> ovlmount_mounts() {
    std::vector<MountEntry> out;
    for (auto& m : mountinfo())
        if (m.fstype == "overlay" && m.source == "ovlmount") out.push_back(m);
    return out;
}

std::vector<MountEntry> mounts_below(const fs::path& dir) {
    std::string d = canonical_or_same(dir);
    std::vector<MountEntry> out;
    for (auto& m : mountinfo())
        if (m.target == d || (m.target.size() > d.size() && m.target.compare(0, d.size(), d) == 0 &&
                              m.target[d.size()] == '/'))
            out.push_back(m);
    return out;
}

// ---- trees -----------------------------------------------------------------------------

namespace {

struct DirFd {
    int fd = -1;
    explicit DirFd(int f) : fd(f) {}
    ~DirFd() {
        if (fd >= 0) ::close(fd);
    }
    DirFd(const DirFd&) = delete;
    DirFd& operator=(const DirFd&) = delete;
};

// Names in a directory (sorted), read through an fd opened O_NOATIME.
std::vector<std::string> list_dir(int dirfd, const std::string& where) {
    int fd = ::dup(dirfd);
    if (fd < 0) fail("dup: " + errno_text(errno));
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
        ::close(fd);
        fail("fdopendir " + where + ": " + errno_text(errno));
    }
    ::rewinddir(d);
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

template <class Fn>
void walk_fd(int dirfd, const std::string& rel, const std::string& abs, Fn&& fn) {
    for (const auto& name : list_dir(dirfd, abs)) {
        struct stat st {};
        std::string r = rel.empty() ? name : rel + "/" + name;
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            fail("lstat " + abs + "/" + name + ": " + errno_text(errno));
        fn(dirfd, name, r, st);
        if (S_ISDIR(st.st_mode)) {
            int sub = open_noatime(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            if (sub < 0) fail("open " + abs + "/" + name + ": " + errno_text(errno));
            DirFd guard(sub);
            walk_fd(sub, r, abs + "/" + name, fn);
        }
    }
}

template <class Fn>
void walk(const fs::path& root, Fn&& fn) {
    int fd = open_noatime(AT_FDCWD, root.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) fail("open " + root.string() + ": " + errno_text(errno));
    DirFd guard(fd);
    walk_fd(fd, "", root.string(), fn);
}

std::string read_at(int dirfd, const std::string& name, bool noatime) {
    int fd = noatime ? open_noatime(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW)
                     : ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) fail("open " + name + ": " + errno_text(errno));
    DirFd guard(fd);
    return read_fd(fd);
}

std::string type_name(mode_t t) {
    switch (t) {
        case S_IFREG: return "file";
        case S_IFDIR: return "dir";
        case S_IFLNK: return "symlink";
        case S_IFCHR: return "chardev";
        case S_IFBLK: return "blockdev";
        case S_IFIFO: return "fifo";
        case S_IFSOCK: return "socket";
        default: return "type?";
    }
}

std::string octal(mode_t m) {
    char b[16];
    std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(m));
    return b;
}

std::set<std::vector<std::string>> link_groups(const std::map<std::string, Node>& t,
                                               const std::set<std::string>& ignore) {
    std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> by;
    for (const auto& [p, n] : t)
        if (n.type != S_IFDIR && !ignore.count(p)) by[{n.dev, n.ino}].push_back(p);
    std::set<std::vector<std::string>> out;
    for (auto& [k, v] : by)
        if (v.size() > 1) {
            std::sort(v.begin(), v.end());
            out.insert(v);
        }
    return out;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

std::string xattr_text(const std::string& path) {
    ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
    if (n <= 0) return {};
    std::string names(static_cast<std::size_t>(n), '\0');
    n = ::llistxattr(path.c_str(), names.data(), names.size());
    if (n <= 0) return {};
    names.resize(static_cast<std::size_t>(n));
    std::vector<std::string> list;
    for (const auto& name : split(names, '\0'))
        if (!name.empty()) list.push_back(name);
    std::sort(list.begin(), list.end());
    std::string out;
    for (const auto& name : list) {
        ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
        std::string v(vn > 0 ? static_cast<std::size_t>(vn) : 0, '\0');
        if (vn > 0) vn = ::lgetxattr(path.c_str(), name.c_str(), v.data(), v.size());
        out += name + "=" + hex(reinterpret_cast<const unsigned char*>(v.data()), vn > 0 ? static_cast<std::size_t>(vn) : 0) + ";";
    }
    return out;
}

std::int64_t ns(const struct timespec& t) { return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

}  // namespace

std::map<std::string, Node> walk_tree(const fs::path& root) {
    std::map<std::string, Node> out;
    walk(root, [&](int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
        Node n;
        n.type = st.st_mode & S_IFMT;
        n.perm = st.st_mode & 07777;
        n.uid = st.st_uid;
        n.gid = st.st_gid;
        n.dev = st.st_dev;
        n.ino = st.st_ino;
        if (S_ISREG(st.st_mode)) n.size = st.st_size;
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) n.rdev = st.st_rdev;
        if (S_ISLNK(st.st_mode)) {
            std::string buf(static_cast<std::size_t>(st.st_size) + 4096, '\0');
            ssize_t k = ::readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
            if (k < 0) fail("readlink " + (root / rel).string() + ": " + errno_text(errno));
            buf.resize(static_cast<std::size_t>(k));
            n.link = buf;
        }
        out.emplace(rel, n);
    });
    return out;
}

const std::set<std::string>& docker_init_entries() {
    static const std::set<std::string> s{".dockerenv", "dev",        "dev/console",     "dev/pts",   "dev/shm",
                                         "etc",        "etc/hosts",  "etc/hostname",    "etc/resolv.conf",
                                         "etc/mtab",   "proc",       "sys"};
    return s;
}

std::vector<std::string> compare_trees(const fs::path& expected_root, const fs::path& actual_root,
                                       const std::set<std::string>& ignore, std::size_t max) {
    auto exp = walk_tree(expected_root);
    auto act = walk_tree(actual_root);
    std::vector<std::string> diffs;
    auto add = [&](const std::string& s) {
        if (diffs.size() < max) diffs.push_back(s);
        else if (diffs.size() == max) diffs.push_back("... (more differences)");
    };
    std::set<std::string> all;
    for (auto& [p, n] : exp) all.insert(p);
    for (auto& [p, n] : act) all.insert(p);
    for (const auto& p : all) {
        if (ignore.count(p)) continue;
        auto e = exp.find(p);
        auto a = act.find(p);
        if (a == act.end()) {
            add("missing in mount: /" + p + " (" + type_name(e->second.type) + ")");
            continue;
        }
        if (e == exp.end()) {
            add("unexpected in mount: /" + p + " (" + type_name(a->second.type) +
                (a->second.type == S_IFCHR ? " " + std::to_string(major(a->second.rdev)) + "/" +
                                                 std::to_string(minor(a->second.rdev))
                                           : "") +
                ")");
            continue;
        }
        const Node& x = e->second;
        const Node& y = a->second;
        if (x.type != y.type) {
            add("/" + p + ": type " + type_name(y.type) + ", expected " + type_name(x.type));
            continue;
        }
        if (x.perm != y.perm) add("/" + p + ": mode " + octal(y.perm) + ", expected " + octal(x.perm));
        if (x.uid != y.uid || x.gid != y.gid)
            add("/" + p + ": owner " + std::to_string(y.uid) + ":" + std::to_string(y.gid) + ", expected " +
                std::to_string(x.uid) + ":" + std::to_string(x.gid));
        if (x.type == S_IFLNK && x.link != y.link)
            add("/" + p + ": symlink to " + quote(y.link) + ", expected " + quote(x.link));
        if ((x.type == S_IFCHR || x.type == S_IFBLK) && x.rdev != y.rdev) add("/" + p + ": device numbers differ");
        if (x.type == S_IFREG) {
            if (x.size != y.size)
                add("/" + p + ": size " + std::to_string(y.size) + ", expected " + std::to_string(x.size));
            else if (read_file(expected_root / p) != read_file(actual_root / p))
                add("/" + p + ": contents differ");
        }
    }
    auto ge = link_groups(exp, ignore);
    auto ga = link_groups(act, ignore);
    for (const auto& g : ge)
        if (!ga.count(g)) add("hard-link group missing in mount: {" + join(g) + "}");
    for (const auto& g : ga)
        if (!ge.count(g)) add("unexpected hard-link group in mount: {" + join(g) + "}");
    return diffs;
}

std::size_t read_every_file(const fs::path& root) {
    std::size_t n = 0;
    walk(root, [&](int dirfd, const std::string& name, const std::string&, const struct stat& st) {
        if (S_ISREG(st.st_mode)) {
            read_at(dirfd, name, false);
            ++n;
        } else if (S_ISLNK(st.st_mode)) {
            char buf[4096];
            (void)!::readlinkat(dirfd, name.c_str(), buf, sizeof buf);
        }
    });
    return n;
}

std::pair<std::int64_t, std::int64_t> regular_files(const fs::path& dir) {
    std::int64_t files = 0, bytes = 0;
    for (const auto& [p, n] : walk_tree(dir))
        if (n.type == S_IFREG) {
            ++files;
            bytes += n.size;
        }
    return {files, bytes};
}

bool is_opaque(const fs::path& p) {
    char v[8];
    ssize_t n = ::lgetxattr(p.c_str(), "trusted.overlay.opaque", v, sizeof v);
    return n == 1 && v[0] == 'y';
}

Snapshot snapshot(const fs::path& root, bool with_atime) {
    Snapshot out;
    auto stamp = [&](const struct stat& st) {
        Stamp s;
        s.mode = st.st_mode;
        s.uid = st.st_uid;
        s.gid = st.st_gid;
        s.size = st.st_size;
        s.nlink = st.st_nlink;
        s.ino = st.st_ino;
        s.rdev = st.st_rdev;
        s.atime_ns = with_atime ? ns(st.st_atim) : 0;
        s.mtime_ns = ns(st.st_mtim);
        s.ctime_ns = ns(st.st_ctim);
        return s;
    };
    struct stat rst {};
    if (::lstat(root.c_str(), &rst) != 0) fail("lstat " + root.string() + ": " + errno_text(errno));
    out["."] = stamp(rst);
    out["."].xattrs = xattr_text(root.string());
    walk(root, [&](int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
        Stamp s = stamp(st);
        if (S_ISREG(st.st_mode)) s.hash = sha256_hex(read_at(dirfd, name, true));
        s.xattrs = xattr_text((root / rel).string());
        out.emplace(rel, std::move(s));
    });
    return out;
}

std::vector<std::string> diff_snapshots(const Snapshot& before, const Snapshot& after, std::size_t max) {
    std::vector<std::string> diffs;
    auto add = [&](const std::string& s) {
        if (diffs.size() < max) diffs.push_back(s);
        else if (diffs.size() == max) diffs.push_back("... (more differences)");
    };
    for (const auto& [p, b] : before) {
        auto it = after.find(p);
        if (it == after.end()) {
            add("removed: " + p);
            continue;
        }
        const Stamp& a = it->second;
        std::string what;
        if (a.mode != b.mode) what += " mode";
        if (a.uid != b.uid || a.gid != b.gid) what += " owner";
        if (a.size != b.size) what += " size";
        if (a.nlink != b.nlink) what += " nlink";
        if (a.ino != b.ino) what += " inode";
        if (a.rdev != b.rdev) what += " rdev";
        if (a.atime_ns != b.atime_ns) what += " atime(" + std::to_string(b.atime_ns) + "->" + std::to_string(a.atime_ns) + ")";
        if (a.mtime_ns != b.mtime_ns) what += " mtime";
        if (a.ctime_ns != b.ctime_ns) what += " ctime";
        if (a.hash != b.hash) what += " contents";
        if (a.xattrs != b.xattrs) what += " xattrs(" + b.xattrs + " -> " + a.xattrs + ")";
        if (!what.empty()) add("changed: " + p + ":" + what);
    }
    for (const auto& [p, a] : after)
        if (!before.count(p)) add("created: " + p);
    return diffs;
}

// ---- Docker as the oracle --------------------------------------------------------------

std::string docker_image_id(const std::string& ref) {
    return docker_ok({"image", "inspect", "--format", "{{.Id}}", ref});
}

namespace {
// Extracts the `docker export` tarball of `what` into `dest` (created) with tar
// --numeric-owner -xpf, then removes the tarball; throws if tar fails.
void extract_export(const fs::path& tarball, const fs::path& dest, const std::string& what) {
    fs::create_directories(dest);
    Result t = run({"tar", "-C", dest.string(), "--numeric-owner", "-xpf", tarball.string()});
    fs::remove(tarball);
    if (t.code != 0) fail("extracting the export of " + what + " failed: " + t.describe());
}

// UpperDir, then LowerDir split on ':' (top first), of a GraphDriver.Data object.
std::vector<std::string> graph_driver_dirs(const boost::json::object& data) {
    std::vector<std::string> out;
    out.emplace_back(data.at("UpperDir").as_string().c_str());
    if (auto* l = data.if_contains("LowerDir"); l != nullptr && l->is_string() && !l->as_string().empty())
        for (auto& p : split(l->as_string().c_str(), ':')) out.push_back(p);
    return out;
}
}  // namespace

std::vector<std::string> docker_lowerdirs(const std::string& ref) {
    auto v = parse_json(docker_ok({"image", "inspect", "--format", "{{json .GraphDriver.Data}}", ref}),
                        "GraphDriver.Data of " + ref);
    return graph_driver_dirs(v.as_object());
}

std::vector<std::string> docker_diff_ids(const std::string& ref) {
    auto v = parse_json(docker_ok({"image", "inspect", "--format", "{{json .RootFS.Layers}}", ref}),
                        "RootFS.Layers of " + ref);
    std::vector<std::string> out;
    for (const auto& x : v.as_array()) out.emplace_back(x.as_string().c_str());
    return out;
}

void docker_export_image(const std::string& ref, const fs::path& dest) {
    fs::path tarball = dest.string() + ".tar";
    {
        DataRootLock lock;
        std::string cid = docker_ok({"create", ref, "/bin/true"});
        Result r = docker({"export", "-o", tarball.string(), cid});
        Result rm = docker({"rm", "-v", cid});
        if (r.code != 0) fail("docker export failed: " + r.describe());
        if (rm.code != 0) fail("docker rm failed: " + rm.describe());
    }
    extract_export(tarball, dest, ref);
}

std::vector<std::string> imagedb_ids(const fs::path& data_root) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(data_root / "image/overlay2/imagedb/content/sha256")) {
        auto n = e.path().filename().string();
        if (is_hex64(n)) out.push_back(n);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string digest_reference() {
    auto v = parse_json(read_file(fs::path(env().data_root) / "image/overlay2/repositories.json"), "repositories.json");
    const auto* repo = v.as_object().at("Repositories").as_object().if_contains("ovltest-multi");
    if (repo != nullptr)
        for (const auto& [k, id] : repo->as_object())
            if (std::string_view(k).find("@sha256:") != std::string_view::npos) return std::string(k);
    fail("no ovltest-multi@sha256:... reference in repositories.json (the docker_images fixture adds it)");
}

// ---- containers (Docker as the oracle) -------------------------------------------------

boost::json::object docker_container_inspect(const std::string& name) {
    auto v = parse_json(docker_ok({"container", "inspect", name}), "docker container inspect " + name);
    if (!v.is_array() || v.as_array().size() != 1 || !v.as_array()[0].is_object())
        fail("docker container inspect " + name + " did not print one object: " + boost::json::serialize(v).substr(0, 2000));
    return v.as_array()[0].as_object();
}

std::string docker_container_id(const std::string& name) {
    return docker_ok({"container", "inspect", "--format", "{{.Id}}", name});
}

std::vector<std::string> docker_container_lowerdirs(const std::string& name) {
    auto v = parse_json(docker_ok({"container", "inspect", "--format", "{{json .GraphDriver.Data}}", name}),
                        "GraphDriver.Data of container " + name);
    return graph_driver_dirs(v.as_object());
}

void docker_export_container(const std::string& name, const fs::path& dest) {
    fs::path tarball = dest.string() + ".tar";
    {
        DataRootLock lock;
        Result r = docker({"export", "-o", tarball.string(), name});
        if (r.code != 0) fail("docker export failed: " + r.describe());
    }
    extract_export(tarball, dest, "container " + name);
}

std::vector<std::string> docker_diff_lines(const std::string& name) {
    Result r;
    {
        DataRootLock lock;
        r = docker({"diff", name});
    }
    if (r.code != 0) fail("docker diff failed: " + r.describe());
    std::vector<std::string> out;
    for (auto& l : split(r.out, '\n'))
        if (!l.empty()) out.push_back(l);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> docker_container_names() {
    Result r = docker({"ps", "-a", "--format", "{{.Names}}"});
    if (r.code != 0) fail("docker ps -a failed: " + r.describe());
    std::vector<std::string> out;
    for (auto& l : split(r.out, '\n'))
        if (!trim(l).empty()) out.push_back(trim(l));
    std::sort(out.begin(), out.end());
    return out;
}

std::string md5sum_hex(std::string_view data) {
    RunOptions o;
    o.input = std::string(data);
    Result r = run({"md5sum"}, o);
    if (r.code != 0 || r.out.size() < 32) fail("md5sum failed: " + r.describe());
    return r.out.substr(0, 32);
}

// ---- ovlmount helpers ------------------------------------------------------------------

boost::json::value parse_json(const std::string& text, const std::string& what) {
    boost::json::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec) fail(what + " is not valid JSON (" + ec.message() + "): " + text.substr(0, 2000));
    return v;
}

boost::json::value ovl_json(const std::vector<std::string>& args) {
    Result r = ovl(args);
    if (r.code != 0) fail("ovlmount failed: " + r.describe());
    return parse_json(r.out, "output of `" + r.cmdline + "`");
}

boost::json::array ovl_list(const fs::path& state_dir, const std::string& data_root) {
    std::vector<std::string> args{"--state-dir", state_dir.string()};
    if (!data_root.empty()) args.insert(args.end(), {"--data-root", data_root});
    args.insert(args.end(), {"list", "--json"});
    auto v = ovl_json(args);
    if (!v.is_array()) fail("list --json did not print an array: " + boost::json::serialize(v));
    return v.as_array();
}

bool one_error_line(const std::string& err) {
    return err.rfind("ovlmount: ", 0) == 0 && !err.empty() && err.back() == '\n' &&
           std::count(err.begin(), err.end(), '\n') == 1;
}

}  // namespace ovltest

// ---- catalog / verify / which helpers --------------------------------------------------

#include <cctype>
#include <cstdio>
#include <ctime>

namespace ovltest {

namespace {
std::vector<std::string> sorted_unique_lines(const std::string& text) {
    std::set<std::string> s;
    for (auto& l : split(text, '\n'))
        if (!trim(l).empty()) s.insert(trim(l));
    return {s.begin(), s.end()};
}

std::map<std::string, boost::json::object> inspect_many(const std::string& kind, const std::vector<std::string>& ids) {
    std::map<std::string, boost::json::object> out;
    const std::size_t chunk = 200;
    for (std::size_t i = 0; i < ids.size(); i += chunk) {
        std::vector<std::string> args{kind, "inspect"};
        args.insert(args.end(), ids.begin() + static_cast<std::ptrdiff_t>(i),
                    ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + chunk)));
        auto v = parse_json(docker_ok(args), "docker " + kind + " inspect");
        for (auto& o : v.as_array()) out[std::string(o.as_object().at("Id").as_string())] = o.as_object();
    }
    return out;
}
}  // namespace

std::vector<std::string> docker_all_image_ids() {
    return sorted_unique_lines(docker_ok({"images", "-a", "-q", "--no-trunc"}));
}

std::vector<std::string> docker_all_container_ids() {
    return sorted_unique_lines(docker_ok({"ps", "-a", "-q", "--no-trunc"}));
}

std::map<std::string, boost::json::object> docker_inspect_images(const std::vector<std::string>& ids) {
    return inspect_many("image", ids);
}

std::map<std::string, boost::json::object> docker_inspect_containers(const std::vector<std::string>& ids) {
    return inspect_many("container", ids);
}

std::vector<std::string> graph_dirs(const boost::json::object& inspect) {
    return graph_driver_dirs(inspect.at("GraphDriver").as_object().at("Data").as_object());
}

std::vector<std::string> docker_image_refs(const boost::json::object& inspect) {
    std::vector<std::string> out;
    for (const char* key : {"RepoTags", "RepoDigests"})
        if (const auto* a = inspect.if_contains(key); a != nullptr && a->is_array())
            for (const auto& x : a->as_array()) out.emplace_back(x.as_string().c_str());
    std::sort(out.begin(), out.end());
    return out;
}

std::string layer_dir_name(const std::string& diff_path) { return fs::path(diff_path).parent_path().filename().string(); }

fs::path layerdb_dir_of_cache(const fs::path& root, const std::string& cache_id) {
    for (const auto& e : fs::directory_iterator(root / "image/overlay2/layerdb/sha256")) {
        std::error_code ec;
        if (fs::is_regular_file(e.path() / "cache-id", ec) && trim(read_file(e.path() / "cache-id")) == cache_id)
            return e.path();
    }
    fail("no layerdb entry with cache-id " + cache_id + " in " + root.string());
}

std::int64_t rfc3339_ns(const std::string& s) {
    int Y, M, D, h, m, sec;
    char T = 0;
    int used = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &Y, &M, &D, &T, &h, &m, &sec, &used) != 7 ||
        (T != 'T' && T != 't' && T != ' '))
        fail("not an RFC 3339 time: '" + s + "'");
    std::size_t p = static_cast<std::size_t>(used);
    std::int64_t frac = 0;
    if (p < s.size() && s[p] == '.') {
        ++p;
        int digits = 0;
        while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
            if (digits < 9) {
                frac = frac * 10 + (s[p] - '0');
                ++digits;
            }
            ++p;
        }
        if (digits == 0) fail("not an RFC 3339 time: '" + s + "'");
        for (; digits < 9; ++digits) frac *= 10;
    }
    std::int64_t offset = 0;
    if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
        ++p;
    } else if (p + 6 == s.size() && (s[p] == '+' || s[p] == '-') && s[p + 3] == ':') {
        int oh = std::stoi(s.substr(p + 1, 2)), om = std::stoi(s.substr(p + 4, 2));
        offset = (s[p] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        p += 6;
    } else {
        fail("not an RFC 3339 time (no zone): '" + s + "'");
    }
    if (p != s.size()) fail("not an RFC 3339 time (trailing text): '" + s + "'");
    struct tm tmv {};
    tmv.tm_year = Y - 1900;
    tmv.tm_mon = M - 1;
    tmv.tm_mday = D;
    tmv.tm_hour = h;
    tmv.tm_min = m;
    tmv.tm_sec = sec;
    std::int64_t t = static_cast<std::int64_t>(::timegm(&tmv)) - offset;
    return t * 1000000000 + frac;
}

std::int64_t json_int(const boost::json::value& v) {
    if (v.is_int64()) return v.as_int64();
    if (v.is_uint64()) return static_cast<std::int64_t>(v.as_uint64());
    if (v.is_double() && v.as_double() == static_cast<double>(static_cast<std::int64_t>(v.as_double())))
        return static_cast<std::int64_t>(v.as_double());
    fail("not an integer: " + boost::json::serialize(v));
}

}  // namespace ovltest
