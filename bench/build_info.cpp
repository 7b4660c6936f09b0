#include "bench/build_info.hpp"

#include "ffb_revision.hpp"  // generated into the build tree by cmake/write_revision.cmake

namespace ffb {

const char* build_revision() { return FFB_BUILD_REVISION; }

}  // namespace ffb
