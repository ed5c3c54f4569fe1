// What listing and collecting rings needs from the system (catalog.cpp):
// a folder of files on POSIX systems (catalog_posix.cpp), a catalog mapping
// of ring names on Windows, whose named mappings cannot be listed
// (catalog_win32.cpp).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <shmyolo/bus/catalog.hpp>

namespace shmyolo::bus::detail {

// The names of the rings that may be present, unsorted.
BusResult<std::vector<std::string>> segment_names(const std::filesystem::path& dir);
// What the system keeps beside the header: path, size, mode, owner, age.
void read_segment_facts(const std::string& name, const std::filesystem::path& dir, SegmentInfo& info);
// Removes a stale segment for good; returns a one-line error, or nothing.
std::string remove_stale_segment(const SegmentInfo& info, const std::filesystem::path& dir);

// Windows only: a ring's creator lists it in the catalog and takes it out
// when it closes the ring; every process that maps a ring holds the catalog
// open, so the catalog lives as long as any ring does.
void catalog_add(std::string_view name);
void catalog_remove(std::string_view name);
void catalog_hold();

}  // namespace shmyolo::bus::detail
