#include "domain_frames.h"

#include <algorithm>

namespace xenclaim {

DomainFrames& DomainFrames::Instance() {
  static DomainFrames instance;
  return instance;
}

void DomainFrames::TrackNewDomain(uint32_t domid, const xen_domain_handle_t handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  Record record;
  std::memcpy(record.handle, handle, sizeof(xen_domain_handle_t));
  records_[domid] = std::move(record);
}

xen_pfn_t DomainFrames::ReserveGfns(uint32_t domid, const xen_domain_handle_t handle, xen_pfn_t first_unused_gfn,
                                    uint64_t pages) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(domid);
  if (it == records_.end() || !SameHandle(it->second, handle)) {
    Record record;
    std::memcpy(record.handle, handle, sizeof(xen_domain_handle_t));
    record.next_gfn = first_unused_gfn;
    it = records_.insert_or_assign(domid, std::move(record)).first;
  }
  const xen_pfn_t first = it->second.next_gfn;
  it->second.next_gfn += pages;
  return first;
}

void DomainFrames::ReleaseUnusedGfns(uint32_t domid, xen_pfn_t reservation_end, xen_pfn_t used_end) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(domid);
  if (it != records_.end() && it->second.next_gfn == reservation_end) it->second.next_gfn = used_end;
}

void DomainFrames::Append(Record& record, const xen_pfn_t* frames, uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) {
    if (!record.runs.empty()) {
      FrameRun& last = record.runs.back();
      if (last.first + last.count == frames[i]) {
        last.count++;
        continue;
      }
    }
    record.runs.push_back(FrameRun{frames[i], 1});
  }
  record.total += count;
}

void DomainFrames::RecordPopulated(uint32_t domid, const xen_pfn_t* frames, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(domid);
  if (it != records_.end()) Append(it->second, frames, count);
}

uint64_t DomainFrames::PopulatedCount(uint32_t domid, const xen_domain_handle_t handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(domid);
  if (it == records_.end()) return 0;
  if (!SameHandle(it->second, handle)) {
    records_.erase(it);  // the domid was reused: what we recorded belonged to a dead domain
    return 0;
  }
  return it->second.total;
}

std::vector<xen_pfn_t> DomainFrames::TakeNewest(uint32_t domid, uint64_t max) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<xen_pfn_t> taken;
  auto it = records_.find(domid);
  if (it == records_.end()) return taken;
  Record& record = it->second;
  while (taken.size() < max && !record.runs.empty()) {
    FrameRun& last = record.runs.back();
    taken.push_back(last.first + last.count - 1);
    record.total--;
    if (--last.count == 0) record.runs.pop_back();
  }
  return taken;
}

void DomainFrames::PutBack(uint32_t domid, const xen_pfn_t* frames, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(domid);
  if (it == records_.end()) return;
  // TakeNewest returned them newest first: append oldest first to restore the order.
  std::vector<xen_pfn_t> ascending(frames, frames + count);
  std::reverse(ascending.begin(), ascending.end());
  Append(it->second, ascending.data(), ascending.size());
}

void DomainFrames::Forget(uint32_t domid) {
  std::lock_guard<std::mutex> lock(mutex_);
  records_.erase(domid);
}

}  // namespace xenclaim
