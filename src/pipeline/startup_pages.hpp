// What the supervisor touched only to start: the dynamic loader's work on
// some 250 libraries (OpenCV's codecs pull in GDAL, Poppler, GDCM, ...) and
// ONNX Runtime's model loading and graph optimisation. Those file pages are
// mapped by the supervisor alone (a fork copies no page-table entry of a
// file mapping it never wrote), so they were most of its memory: 64 of the
// 79 MB PSS of a 2-camera, 2-worker `shmyolo run` (docs/benchmarks.md).
#pragma once

#include <cstddef>

namespace shmyolo::pipeline {

// Asks the kernel to reclaim this process's pages of read-only file mappings
// (MADV_PAGEOUT, Linux 5.4 and later). Nothing is lost: a page touched again
// is read back from its file, and pages another process maps are left alone.
// Returns the bytes of mappings advised; 0 where the kernel cannot.
std::size_t release_startup_pages();

}  // namespace shmyolo::pipeline
