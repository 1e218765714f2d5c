// Which frames xenclaim gave each domain, so that populatePhysmap can pick unused guest frames and
// decreaseReservation can hand back exactly frames that are populated.
//
// Why this bookkeeping exists: XENMEM_populate_physmap needs the guest frame numbers to fill and
// XENMEM_decrease_reservation needs the frames to free, but Xen offers no call that lists a domain's populated
// frames. For a domain we create, frames 0.. are unused, so a cursor starting at 0 suffices. For a domain created by
// someone else (libxl, xl) the frames below XENMEM_maximum_gpfn may be in use, so its cursor starts at
// maximum_gpfn + 1. What to hand back is what we populated, newest first: for a translated (HVM/PVH) domain the
// guest frames we filled; for a PV domain Xen writes the machine frames it allocated back into the request, and
// those MFNs are what decrease_reservation takes for PV. Frames are kept as runs, so a contiguous build costs a
// few bytes, not 8 bytes per page.
//
// A domain instance is recognised by its domid AND its handle (the 16-byte xen_domain_handle_t): if a domid is
// destroyed behind our back and reused, the handle differs and the old record is dropped. (Two instances with the
// same handle on the same domid — e.g. both all-zero — cannot be told apart; xenclaim gives its own domains random
// handles.)
#pragma once

#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "xen_headers.h"

namespace xenclaim {

struct FrameRun {
  xen_pfn_t first;
  uint64_t count;
};

class DomainFrames {
 public:
  // Starts tracking a domain we just created: no frames, cursor at guest frame 0.
  void TrackNewDomain(uint32_t domid, const xen_domain_handle_t handle);
  // Reserves `pages` consecutive guest frame numbers for a populate. `first_unused_gfn` is consulted only when the
  // domain instance is not tracked yet (maximum_gpfn + 1 for a domain not created by us).
  xen_pfn_t ReserveGfns(uint32_t domid, const xen_domain_handle_t handle, xen_pfn_t first_unused_gfn, uint64_t pages);
  // Gives back the tail of a reservation a populate did not use, when nobody reserved after it.
  void ReleaseUnusedGfns(uint32_t domid, xen_pfn_t reservation_end, xen_pfn_t used_end);
  // Records frames Xen populated (as decrease_reservation will want them back).
  void RecordPopulated(uint32_t domid, const xen_pfn_t* frames, uint64_t count);
  // Frames populated through us for this domain instance (0 if it is not tracked).
  uint64_t PopulatedCount(uint32_t domid, const xen_domain_handle_t handle);
  // Takes up to `max` frames off the top (newest first) for a decrease_reservation.
  std::vector<xen_pfn_t> TakeNewest(uint32_t domid, uint64_t max);
  // Puts back frames a decrease_reservation did not free (in the order TakeNewest returned them).
  void PutBack(uint32_t domid, const xen_pfn_t* frames, uint64_t count);
  void Forget(uint32_t domid);

  static DomainFrames& Instance();

 private:
  struct Record {
    xen_domain_handle_t handle;
    xen_pfn_t next_gfn = 0;
    uint64_t total = 0;
    std::vector<FrameRun> runs;  // oldest first
  };
  static bool SameHandle(const Record& record, const xen_domain_handle_t handle) {
    return std::memcmp(record.handle, handle, sizeof(xen_domain_handle_t)) == 0;
  }
  static void Append(Record& record, const xen_pfn_t* frames, uint64_t count);

  std::mutex mutex_;
  std::unordered_map<uint32_t, Record> records_;
};

}  // namespace xenclaim
