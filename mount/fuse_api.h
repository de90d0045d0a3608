// The one place that includes libfuse's low-level API, at the version zsfs is written against.
//
// 3.12 is the newest API level that libfuse 3.14 offers (fuse_loop_cfg_*, fuse_session_loop_mt
// with a config). Everything in mount/ that talks to FUSE includes this header, never
// <fuse_lowlevel.h> directly, so the version cannot differ between files.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fs/types.h"

static_assert(FUSE_ROOT_ID == zsfs::fs::kRootIno, "the core's root inode must be FUSE's");
