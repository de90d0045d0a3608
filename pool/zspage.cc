// Zspage descriptors: construction over a chain of pages, and destruction.
//
// Owns the descriptor's heap block, not the pages (the class releases those). A new descriptor
// meets zspage.h's invariants: every slot free, linked in slot order, inuse 0.
#include "pool/zspage.h"

#include <memory>
#include <new>

namespace zsfs::pool::detail {

Zspage* Zspage::create(const SizeClass& c, std::span<std::byte* const> pages) {
  ZSFS_CHECK(pages.size() == c.pages_per_zspage && c.objects_per_zspage < kNoSlot);
  void* memory = ::operator new(bytes_for(c), std::nothrow);
  if (memory == nullptr) return nullptr;
  auto* zspage = new (memory) Zspage;
  zspage->nr_pages = static_cast<uint16_t>(c.pages_per_zspage);
  zspage->nr_slots = static_cast<uint16_t>(c.objects_per_zspage);
  std::uninitialized_copy(pages.begin(), pages.end(), zspage->pages());
  // Free list in slot order, as init_zspage() links it: the first objects fill the first page.
  uint32_t* slot_array = zspage->slots();
  for (uint32_t i = 0; i < c.objects_per_zspage; ++i) {
    new (slot_array + i) uint32_t(kSlotFree | (i + 1 < c.objects_per_zspage ? i + 1 : kNoSlot));
  }
  zspage->free_head = 0;
  return zspage;
}

void Zspage::destroy(Zspage* zspage) {
  zspage->~Zspage();
  ::operator delete(zspage);
}

}  // namespace zsfs::pool::detail
