// The bash completion of zsfs (dist/bash-completion/zsfs) offers exactly the options zsfs
// accepts: an option added to mount/options.cc fails here until the completion lists it too.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "mount/options.h"

namespace zsfs::mount {
namespace {

// The words of the completion's _zsfs_options='...' list.
std::set<std::string> completion_options() {
  std::ifstream file(ZSFS_SOURCE_DIR "/dist/bash-completion/zsfs");
  EXPECT_TRUE(file.good()) << "cannot read " ZSFS_SOURCE_DIR "/dist/bash-completion/zsfs";
  std::stringstream text;
  text << file.rdbuf();
  const std::string script = text.str();
  const std::string start = "_zsfs_options='";
  const size_t begin = script.find(start);
  const size_t end = begin == std::string::npos ? begin : script.find('\'', begin + start.size());
  EXPECT_NE(end, std::string::npos) << "no " << start << "...' in the completion";
  if (end == std::string::npos) return {};
  std::istringstream words(script.substr(begin + start.size(), end - begin - start.size()));
  std::set<std::string> names;
  for (std::string word; words >> word;)
    EXPECT_TRUE(names.insert(word).second) << word << " is listed twice";
  return names;
}

TEST(Completion, OffersEveryOptionZsfsAcceptsAndNoOther) {
  const std::set<std::string> offered = completion_options();
  std::set<std::string> accepted;
  for (const std::string& name : option_names()) {
    accepted.insert(name);
    EXPECT_TRUE(offered.count(name) == 1)
        << "zsfs accepts -o " << name << " but dist/bash-completion/zsfs does not offer it";
  }
  for (const std::string& name : offered) {
    EXPECT_TRUE(accepted.count(name) == 1)
        << "dist/bash-completion/zsfs offers -o " << name << ", which zsfs does not accept";
  }
}

}  // namespace
}  // namespace zsfs::mount
