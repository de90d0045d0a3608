#include "mount/options.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <filesystem>
#include <optional>

#include <CLI/CLI.hpp>

#include "codec/dictionary.h"
#include "fs/dedup_store.h"
#include "mount/generic_options.h"
#include "mount/readahead.h"
#include "mount/units.h"
#include "pool/pool.h"

namespace zsfs::mount {
namespace {

using Handler = Check (*)(std::string_view value, const SystemInfo& system, Options& options);

// One -o option: its key, whether it takes "=value" (and an example for the message when the
// value is missing), and what it does.
struct OptionSpec {
  std::string_view key;
  std::string_view example;  // empty: a flag, which takes no value
  Handler apply;             // null: the option goes to libfuse as it is
};

Check done() {
  return Done{};
}

// Options libfuse takes as they are: kernel mount flags and FUSE mount options.
Check pass_to_fuse(std::string_view option, Options& options) {
  options.fuse_options.emplace_back(option);
  return done();
}

Check apply_size(std::string_view value, const SystemInfo& system, Options& options) {
  auto size = parse_size("size", value, system.ram_bytes);
  if (!size.ok()) return Unexpected{size.message()};
  // Whole pages, as tmpfs rounds its size.
  const uint64_t page = pool::kPageSize;
  uint64_t bytes = *size;
  if (bytes % page != 0) {
    bytes = bytes > UINT64_MAX - page ? bytes / page * page : (bytes / page + 1) * page;
  }
  if (bytes < kMinSizeBytes) {
    return Unexpected{option_text("size", value) + ": too small; the least is " +
                      format_bytes(kMinSizeBytes) + " (size=1m)"};
  }
  if (bytes > system.ram_bytes) {
    return Unexpected{option_text("size", value) + ": more than this machine's RAM (" +
                      format_bytes(system.ram_bytes) + "); use at most size=100%"};
  }
  options.config.size_bytes = bytes;
  return done();
}

Check apply_nr_inodes(std::string_view value, const SystemInfo&, Options& options) {
  auto count = parse_count("nr_inodes", value);
  if (!count.ok()) return Unexpected{count.message()};
  if (*count == 0) {
    return Unexpected{option_text("nr_inodes", value) +
                      ": must be at least 1 (zsfs has no unlimited inode count)"};
  }
  options.config.nr_inodes = *count;
  return done();
}

Check apply_mode(std::string_view value, const SystemInfo&, Options& options) {
  auto mode = parse_mode("mode", value);
  if (!mode.ok()) return Unexpected{mode.message()};
  options.config.root_mode = *mode;
  return done();
}

Check apply_uid(std::string_view value, const SystemInfo&, Options& options) {
  auto id = parse_id("uid", value, IdKind::kUser);
  if (!id.ok()) return Unexpected{id.message()};
  options.config.root_uid = *id;
  return done();
}

Check apply_gid(std::string_view value, const SystemInfo&, Options& options) {
  auto id = parse_id("gid", value, IdKind::kGroup);
  if (!id.ok()) return Unexpected{id.message()};
  options.config.root_gid = *id;
  return done();
}

Check apply_compress(std::string_view value, const SystemInfo&, Options& options) {
  if (value == "auto") {
    // lz4 when a write compresses its own blocks, zstd when an idle core does it for it.
    options.config.algorithm = codec::Algorithm::kLz4;
    options.config.background_algorithm = codec::Algorithm::kZstd;
    return done();
  }
  const std::optional<codec::Algorithm> algorithm = codec::parse_algorithm(value);
  if (!algorithm) {
    return Unexpected{option_text("compress", value) +
                      ": unknown algorithm; expected auto, lz4, zstd or none"};
  }
  options.config.algorithm = *algorithm;
  options.config.background_algorithm = *algorithm;
  return done();
}

Check apply_recompress(std::string_view value, const SystemInfo&, Options& options) {
  if (value == "zstd") {
    options.config.recompress = true;
  } else if (value == "off") {
    options.config.recompress = false;
  } else {
    return Unexpected{option_text("recompress", value) +
                      ": unknown algorithm; expected zstd or off"};
  }
  return done();
}

Check apply_recompress_level(std::string_view value, const SystemInfo& system, Options& options) {
  auto level = parse_int_in_range("recompress_level", value, 1, system.max_level);
  if (!level.ok()) return Unexpected{level.message() + " (zstd's levels)"};
  options.config.recompress_level = static_cast<int>(*level);
  return done();
}

Check apply_recompress_after(std::string_view value, const SystemInfo&, Options& options) {
  if (value == "off") {
    options.config.recompress_after_seconds = -1;  // on request only
    return done();
  }
  // The dedup store tells ages apart up to 2^15 seconds (about 9 hours).
  auto seconds = parse_seconds("recompress_after", value, fs::DedupStore::kMaxAge.count());
  if (!seconds.ok()) return Unexpected{seconds.message() + ", or off"};
  options.config.recompress_after_seconds = static_cast<int64_t>(*seconds);
  return done();
}

Check apply_dict(std::string_view value, const SystemInfo&, Options& options) {
  auto on = parse_switch("dict", value);
  if (!on.ok()) return Unexpected{on.message()};
  options.config.dict = *on;
  return done();
}

Check apply_dict_size(std::string_view value, const SystemInfo& system, Options& options) {
  auto size = parse_size("dict_size", value, system.ram_bytes);
  if (!size.ok()) return Unexpected{size.message()};
  if (*size < codec::kMinDictionaryBytes || *size > codec::kMaxDictionaryBytes) {
    return Unexpected{option_text("dict_size", value) + ": expected " +
                      format_bytes(codec::kMinDictionaryBytes) + " to " +
                      format_bytes(codec::kMaxDictionaryBytes) + " (dict_size=1m)"};
  }
  options.config.dict_size_bytes = *size;
  return done();
}

// image=PATH: kept absolute, since the daemon changes to / once mounted.
Check apply_image(std::string_view value, const SystemInfo&, Options& options) {
  if (value.empty() || value.back() == '/') {
    return Unexpected{option_text("image", value) +
                      ": expected the path of a file (image=/var/lib/zsfs/home.img)"};
  }
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(std::string(value), error);
  if (error) {
    return Unexpected{option_text("image", value) + ": " + error.message()};
  }
  options.config.image_path = absolute.lexically_normal().string();
  return done();
}

// backing=PATH: kept absolute, as image=.
Check apply_backing(std::string_view value, const SystemInfo&, Options& options) {
  if (value.empty() || value.back() == '/') {
    return Unexpected{option_text("backing", value) +
                      ": expected the path of a file (backing=/var/tmp/zsfs.backing)"};
  }
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(std::string(value), error);
  if (error) return Unexpected{option_text("backing", value) + ": " + error.message()};
  options.config.backing_path = absolute.lexically_normal().string();
  return done();
}

Check apply_backing_size(std::string_view value, const SystemInfo& system, Options& options) {
  // A percentage is of RAM, as for size=; a backing file is usually larger than RAM.
  auto size = parse_size("backing_size", value, system.ram_bytes);
  if (!size.ok()) return Unexpected{size.message()};
  if (*size < kMinBackingBytes) {
    return Unexpected{option_text("backing_size", value) + ": too small; the least is " +
                      format_bytes(kMinBackingBytes) + " (backing_size=1m)"};
  }
  options.config.backing_size_bytes = *size;
  return done();
}

Check apply_writeback_after(std::string_view value, const SystemInfo&, Options& options) {
  if (value == "off") {
    options.config.writeback_after_seconds = -1;
    return done();
  }
  // The dedup store tells ages apart up to 2^15 seconds (about 9 hours).
  auto seconds = parse_seconds("writeback_after", value, fs::DedupStore::kMaxAge.count());
  if (!seconds.ok()) return Unexpected{seconds.message() + ", or off"};
  options.config.writeback_after_seconds = static_cast<int64_t>(*seconds);
  return done();
}

Check apply_promote(std::string_view value, const SystemInfo&, Options& options) {
  auto on = parse_switch("promote", value);
  if (!on.ok()) return Unexpected{on.message()};
  options.config.promote = *on;
  return done();
}

Check apply_save_interval(std::string_view value, const SystemInfo&, Options& options) {
  if (value == "off" || value == "0") {
    options.config.save_interval_seconds = 0;
    return done();
  }
  auto seconds = parse_seconds("save_interval", value, kMaxSaveIntervalSeconds);
  if (!seconds.ok()) return Unexpected{seconds.message() + ", or off"};
  options.config.save_interval_seconds = *seconds;
  return done();
}

Check apply_level(std::string_view value, const SystemInfo& system, Options& options) {
  auto level = parse_int_in_range("level", value, system.min_level, system.max_level);
  if (!level.ok())
    return Unexpected{level.message() + " (zstd's levels; negative ones are faster)"};
  options.config.level = static_cast<int>(*level);
  return done();
}

Check apply_dedup(std::string_view value, const SystemInfo&, Options& options) {
  auto on = parse_switch("dedup", value);
  if (!on.ok()) return Unexpected{on.message()};
  options.config.dedup = *on;
  return done();
}

Check apply_chain(std::string_view value, const SystemInfo&, Options& options) {
  auto pages = parse_int_in_range("chain", value, pool::kMinChainPages, pool::kMaxChainPages);
  if (!pages.ok()) return Unexpected{pages.message() + " pages per zspage"};
  options.config.chain_pages = static_cast<unsigned>(*pages);
  return done();
}

Check apply_readahead(std::string_view value, const SystemInfo& system, Options& options) {
  auto size = parse_size("readahead", value, system.ram_bytes);
  if (!size.ok()) return Unexpected{size.message()};
  if (*size > kMaxReadaheadBytes || *size % 1024 != 0) {
    return Unexpected{option_text("readahead", value) + ": expected whole KiB from 0 to " +
                      format_bytes(kMaxReadaheadBytes) + " (readahead=1m)"};
  }
  options.readahead_bytes = *size;
  return done();
}

Check apply_threads(std::string_view value, const SystemInfo&, Options& options) {
  auto threads = parse_int_in_range("threads", value, 1, kMaxThreads);
  if (!threads.ok()) return Unexpected{threads.message() + " threads"};
  options.threads = static_cast<unsigned>(*threads);
  return done();
}

Check apply_encode_threads(std::string_view value, const SystemInfo&, Options& options) {
  auto threads = parse_int_in_range("encode_threads", value, 0, kMaxThreads);
  if (!threads.ok()) return Unexpected{threads.message() + " threads"};
  options.config.encode_threads = static_cast<unsigned>(*threads);
  return done();
}

Check apply_writeback(std::string_view value, const SystemInfo&, Options& options) {
  auto on = parse_switch("writeback", value);
  if (!on.ok()) return Unexpected{on.message()};
  options.writeback = *on;
  return done();
}

Check apply_fsname(std::string_view value, const SystemInfo&, Options& options) {
  if (value.empty()) return Unexpected{"fsname=: expected a name to show as the mount's source"};
  options.fsname = value;
  return done();
}

Check apply_subtype(std::string_view value, const SystemInfo&, Options& options) {
  // Empty: no subtype, the plain type fuse.
  const bool ok = std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
  if (!ok) {
    return Unexpected{option_text("subtype", value) +
                      ": expected letters, digits, '.', '_' or '-' (the type shows as "
                      "fuse.<subtype>), or nothing for the type fuse"};
  }
  options.subtype = value;
  return done();
}

// Flags.
Check flag_acl(std::string_view, const SystemInfo&, Options& options) {
  options.config.posix_acl = true;
  return done();
}
Check flag_noacl(std::string_view, const SystemInfo&, Options& options) {
  options.config.posix_acl = false;
  return done();
}
Check flag_allow_other(std::string_view, const SystemInfo&, Options& options) {
  options.allow_other = true;
  return done();
}
Check flag_nonempty(std::string_view, const SystemInfo&, Options& options) {
  options.nonempty = true;
  return done();
}
Check flag_debug(std::string_view, const SystemInfo&, Options& options) {
  options.debug = true;
  options.foreground = true;
  return done();
}
Check flag_ignored(std::string_view, const SystemInfo&, Options&) {
  return done();
}

constexpr std::array kOptions = {
    // zsfs's own.
    OptionSpec{"size", "size=2G or size=50%", apply_size},
    OptionSpec{"nr_inodes", "nr_inodes=1m", apply_nr_inodes},
    OptionSpec{"mode", "mode=1777", apply_mode},
    OptionSpec{"uid", "uid=1000", apply_uid},
    OptionSpec{"gid", "gid=1000", apply_gid},
    OptionSpec{"compress", "compress=auto", apply_compress},
    OptionSpec{"level", "level=3", apply_level},
    OptionSpec{"recompress", "recompress=zstd", apply_recompress},
    OptionSpec{"recompress_level", "recompress_level=15", apply_recompress_level},
    OptionSpec{"recompress_after", "recompress_after=60s", apply_recompress_after},
    OptionSpec{"dict", "dict=on", apply_dict},
    OptionSpec{"dict_size", "dict_size=1m", apply_dict_size},
    OptionSpec{"dedup", "dedup=on", apply_dedup},
    OptionSpec{"image", "image=/var/lib/zsfs/home.img", apply_image},
    OptionSpec{"save_interval", "save_interval=10m", apply_save_interval},
    OptionSpec{"backing", "backing=/var/tmp/zsfs.backing", apply_backing},
    OptionSpec{"backing_size", "backing_size=16g", apply_backing_size},
    OptionSpec{"writeback_after", "writeback_after=1h", apply_writeback_after},
    OptionSpec{"promote", "promote=off", apply_promote},
    OptionSpec{"chain", "chain=8", apply_chain},
    OptionSpec{"writeback", "writeback=off", apply_writeback},
    OptionSpec{"threads", "threads=1", apply_threads},
    OptionSpec{"readahead", "readahead=1m", apply_readahead},
    OptionSpec{"encode_threads", "encode_threads=2", apply_encode_threads},
    OptionSpec{"nonempty", "", flag_nonempty},
    OptionSpec{"debug", "", flag_debug},
    // POSIX ACLs, on by default as on tmpfs (fs/posix_acl.h).
    OptionSpec{"acl", "", flag_acl},
    OptionSpec{"noacl", "", flag_noacl},
    // FUSE mount options.
    OptionSpec{"allow_other", "", flag_allow_other},
    OptionSpec{"default_permissions", "", flag_ignored},  // always on
    OptionSpec{"fsname", "fsname=NAME", apply_fsname},
    OptionSpec{"subtype", "subtype=zsfs", apply_subtype},
    OptionSpec{"allow_root", "", nullptr},
    OptionSpec{"auto_unmount", "", nullptr},
};

std::string escape_option_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string join_options(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += ',';
    out += part;
  }
  return out;
}

}  // namespace

SystemInfo SystemInfo::probe(int min_level, int max_level, int default_level) {
  SystemInfo info;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  info.ram_pages = pages > 0 ? static_cast<uint64_t>(pages) : 0;
  info.ram_bytes = info.ram_pages * (page_size > 0 ? static_cast<uint64_t>(page_size) : 4096);
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  info.cores = cores > 0 ? static_cast<unsigned>(cores) : 1;
  info.uid = static_cast<uint32_t>(getuid());
  info.gid = static_cast<uint32_t>(getgid());
  info.min_level = min_level;
  info.max_level = max_level;
  info.default_level = default_level;
  // As libselinux's is_selinux_enabled(): selinuxfs is mounted where the kernel puts it.
  info.selinux = access("/sys/fs/selinux/enforce", F_OK) == 0;
  return info;
}

Options default_options(const SystemInfo& system) {
  Options options;
  fs::Config& config = options.config;
  // As tmpfs: half of RAM (whole pages) and half as many inodes as RAM has pages.
  config.size_bytes = system.ram_bytes / 2 / pool::kPageSize * pool::kPageSize;
  config.nr_inodes = std::max<uint64_t>(system.ram_pages / 2, 1);
  config.root_mode = 01777;
  config.root_uid = system.uid;
  config.root_gid = system.gid;
  config.owner_uid = system.uid;
  // The codec tiers as fs::Config has them (lz4 first, zstd with a dictionary after; the figures
  // behind the choice are in fs/types.h); zstd's level for compress=zstd from the library.
  config.level = system.default_level;
  config.dedup = true;
  config.chain_pages = pool::kDefaultChainPages;
  config.atime = fs::AtimePolicy::kRelatime;
  // One background compressor per CPU but one, at least one: when the background falls behind,
  // the request thread compresses its blocks itself and is the last compressor. Measured on 2
  // cores (untar of the Linux tree, alternate runs): 10.6, 13.9, 14.2 s with one against 13.7,
  // 16.8, 15.5 s with two, whose extra thread only adds context switches; a 2 GiB sequential
  // write, 309 and 339 MB/s against 298 and 282.
  config.encode_threads = std::clamp(std::max(system.cores, 2u) - 1, 1u, kMaxThreads);
  return options;
}

std::vector<std::string> split_option_list(std::string_view text) {
  std::vector<std::string> parts;
  std::string current;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      current += text[++i];
    } else if (c == ',') {
      parts.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(std::move(current));
  return parts;
}

Check apply_mount_option(std::string_view option, const SystemInfo& system, Options& options) {
  if (option.empty()) return done();  // "a,,b" and a trailing comma, as mount(8) allows
  const size_t eq = option.find('=');
  const std::string_view key = option.substr(0, eq);
  const bool has_value = eq != std::string_view::npos;
  const std::string_view value = has_value ? option.substr(eq + 1) : std::string_view();

  for (const OptionSpec& spec : kOptions) {
    if (spec.key != key) continue;
    const bool takes_value = !spec.example.empty();
    if (takes_value && !has_value) {
      return Unexpected{"option '" + std::string(key) + "' needs a value, such as " +
                        std::string(spec.example)};
    }
    if (!takes_value && has_value) {
      return Unexpected{"option '" + std::string(option) + "': '" + std::string(key) +
                        "' takes no value"};
    }
    if (spec.apply == nullptr) return pass_to_fuse(option, options);
    return spec.apply(value, system, options);
  }
  // The generic ones (ro, nosuid, noatime, nofail, ...): generic_options.h.
  if (std::optional<Check> generic = apply_generic_option(option, system, options)) {
    return std::move(*generic);
  }
  return Unexpected{"unknown option '" + std::string(option) +
                    "'; 'zsfs --help' lists the options zsfs accepts"};
}

std::vector<std::string> fuse_arguments(const Options& options) {
  std::vector<std::string> parts = {
      "default_permissions",
      "fsname=" + escape_option_value(options.fsname.empty() ? options.source : options.fsname),
  };
  // Without a subtype libfuse mounts type fuse; with an empty one it would ask for "fuse.".
  if (!options.subtype.empty()) parts.push_back("subtype=" + options.subtype);
  if (options.allow_other) parts.emplace_back("allow_other");
  if (options.config.atime == fs::AtimePolicy::kNoatime) parts.emplace_back("noatime");
  if (options.debug) parts.emplace_back("debug");
  for (const auto& option : options.fuse_options)
    parts.push_back(option);
  return {"zsfs", "-o", join_options(parts)};
}

CommandLine parse_command_line(int argc, const char* const* argv, const SystemInfo& system) {
  CommandLine result;
  result.options = default_options(system);
  Options& options = result.options;

  CLI::App app{"", "zsfs"};
  app.set_help_flag();  // zsfs writes its own help: CLI11 cannot show "[SOURCE] MOUNTPOINT -o".
  bool help = false;
  bool version = false;
  std::vector<std::string> positionals;
  std::vector<std::string> option_lists;
  app.add_flag("-h,--help", help);
  app.add_flag("-V,--version", version);
  app.add_flag("-f,--foreground", options.foreground);
  app.add_flag("-d,--debug", options.debug);
  // One list per -o; several -o accumulate. allow_extra_args(false) keeps "-o a b" from eating
  // the positional b.
  app.add_option("-o", option_lists)->allow_extra_args(false);
  app.add_option("paths", positionals);

  try {
    // CLI11 wants a mutable argv.
    app.parse(argc, const_cast<char**>(argv));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  } catch (const CLI::ParseError& e) {
    result.message = e.what();
    return result;
  }
  if (help) {
    result.action = Action::kHelp;
    return result;
  }
  if (version) {
    result.action = Action::kVersion;
    return result;
  }
  if (options.debug) options.foreground = true;

  for (const auto& list : option_lists) {
    for (const auto& option : split_option_list(list)) {
      Check applied = apply_mount_option(option, system, options);
      if (!applied.ok()) {
        result.message = applied.message();
        return result;
      }
    }
  }

  if (positionals.empty()) {
    result.message = "missing mount point";
    return result;
  }
  if (positionals.size() > 2) {
    result.message =
        "too many arguments (from '" + positionals[2] + "' on); expected [SOURCE] MOUNTPOINT";
    return result;
  }
  if (positionals.size() == 2) {
    if (positionals[0].empty()) {
      result.message = "empty source name";
      return result;
    }
    options.source = positionals[0];
  }
  options.mount_point = positionals.back();
  if (options.mount_point.empty()) {
    result.message = "missing mount point (the argument is empty)";
    return result;
  }
  result.action = Action::kMount;
  return result;
}

std::vector<std::string> option_names() {
  std::vector<std::string> names;
  for (const OptionSpec& spec : kOptions)
    names.push_back(std::string(spec.key) + (spec.example.empty() ? "" : "="));
  for (std::string& name : generic_option_names())
    names.push_back(std::move(name));
  return names;
}

}  // namespace zsfs::mount
