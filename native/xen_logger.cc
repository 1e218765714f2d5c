#include "xen_logger.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>

namespace xenclaim {
namespace {

thread_local LogCapture* current_capture = nullptr;

constexpr std::size_t kMaxUnattributedLines = 100;
std::mutex unattributed_mutex;
std::deque<std::string> unattributed_lines;

const char* LevelName(xentoollog_level level) {
  switch (level) {
    case XTL_DEBUG: return "debug";
    case XTL_VERBOSE: return "verbose";
    case XTL_DETAIL: return "detail";
    case XTL_PROGRESS: return "progress";
    case XTL_INFO: return "info";
    case XTL_NOTICE: return "notice";
    case XTL_WARN: return "warning";
    case XTL_ERROR: return "error";
    case XTL_CRITICAL: return "critical";
    default: return "log";
  }
}

void Record(std::string line, xentoollog_level level = XTL_NONE, int errnoval = -1) {
  if (current_capture != nullptr) {
    if (level >= XTL_ERROR && errnoval > 0 && current_capture->first_error_errno < 0) {
      current_capture->first_error_errno = errnoval;
    }
    auto& lines = current_capture->lines;
    if (lines.size() >= kMaxCapturedLines) {
      lines.erase(lines.begin());
      current_capture->dropped++;
    }
    lines.push_back(std::move(line));
    return;
  }
  std::lock_guard<std::mutex> lock(unattributed_mutex);
  if (unattributed_lines.size() >= kMaxUnattributedLines) unattributed_lines.pop_front();
  unattributed_lines.push_back(std::move(line));
}

// Formats like xentoollog's stdiostream logger ("context: level: message: strerror"), minus the trailing newline.
void CaptureMessage(xentoollog_logger*, xentoollog_level level, int errnoval, const char* context,
                    const char* format, va_list args) {
  if (level < kMinCapturedLevel) return;
  // Xen's callers expect errno to survive logging (libxc documents that the handler may trash it, then restores
  // it itself; libxl does not): keep it intact here so the caller's errno is the library's, not ours.
  const int saved_errno = errno;
  std::string line;
  if (context != nullptr) {
    line += context;
    line += ": ";
  }
  line += LevelName(level);
  line += ": ";

  char stack_buffer[512];
  va_list copy;
  va_copy(copy, args);
  const int needed = std::vsnprintf(stack_buffer, sizeof stack_buffer, format, copy);
  va_end(copy);
  if (needed >= 0 && static_cast<std::size_t>(needed) < sizeof stack_buffer) {
    line += stack_buffer;
  } else if (needed >= 0) {
    std::string big(static_cast<std::size_t>(needed) + 1, '\0');
    std::vsnprintf(big.data(), big.size(), format, args);
    big.resize(static_cast<std::size_t>(needed));
    line += big;
  }
  if (errnoval >= 0) {
    char errbuf[128];
    line += ": ";
    line += strerror_r(errnoval, errbuf, sizeof errbuf);  // GNU strerror_r returns the message
  }
  Record(std::move(line), level, errnoval);
  errno = saved_errno;
}

// Progress reports (domain building) are not errors: keep only the start and the end of each, as lines.
void CaptureProgress(xentoollog_logger*, const char* context, const char* doing_what, int percent,
                     unsigned long done, unsigned long total) {
  if (done != 0 && done != total) return;
  const int saved_errno = errno;
  std::string line;
  if (context != nullptr) {
    line += context;
    line += ": ";
  }
  line += "progress: ";
  line += doing_what != nullptr ? doing_what : "";
  line += done == 0 ? " (started)" : " (done)";
  Record(std::move(line));
  errno = saved_errno;
}

void NeverDestroy(xentoollog_logger*) {}

xentoollog_logger capturing_logger = {CaptureMessage, CaptureProgress, NeverDestroy};

}  // namespace

ScopedLogCapture::ScopedLogCapture(LogCapture* capture) : previous_(current_capture) {
  current_capture = capture;
}

ScopedLogCapture::~ScopedLogCapture() { current_capture = previous_; }

xentoollog_logger* CapturingLogger() { return &capturing_logger; }

std::vector<std::string> TakeUnattributedLines() {
  std::lock_guard<std::mutex> lock(unattributed_mutex);
  std::vector<std::string> lines(unattributed_lines.begin(), unattributed_lines.end());
  unattributed_lines.clear();
  return lines;
}

}  // namespace xenclaim
