// What the running binary was built from: the revision is stamped at build time (not at configure
// time), so a binary rebuilt after a commit never names the revision of an older configure.
#pragma once

namespace ffb {

// The short commit the binary was built from, with "-dirty" when tracked files had uncommitted
// changes at build time; "unknown" outside a git work tree.
const char* build_revision();

}  // namespace ffb
