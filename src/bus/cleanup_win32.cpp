// Stopping on Windows: Ctrl-C, Ctrl-Break and a closing console mark the
// process's own rings closed (waking their waiters) before the default
// handler ends the process. Nothing is removed by name: a mapping goes with
// its last view, so the rings disappear with the processes that map them;
// they leave the catalog (catalog_win32.cpp).
#include <shmyolo/bus/cleanup.hpp>

#include <windows.h>

#include <algorithm>
#include <string_view>

#include "catalog_platform.hpp"
#include "cleanup_registry.hpp"

namespace shmyolo::bus {

namespace detail {

// Nothing to remove by name: the ring only leaves the catalog.
void remove_segment(const char* path) noexcept {
  std::string_view name(path);
  name.remove_prefix(std::min(name.find('\\') + 1, name.size()));  // "Local\<ring>"
  catalog_remove(name);
}

}  // namespace detail

namespace {
BOOL WINAPI on_console_stop(DWORD /*event*/) {
  cleanup_owned_segments();
  return FALSE;  // the next handler (the default one) ends the process
}
}  // namespace

void install_signal_cleanup() {
  SetConsoleCtrlHandler(on_console_stop, TRUE);
}

}  // namespace shmyolo::bus
