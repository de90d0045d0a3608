// BlockMap: a radix tree of 64-slot nodes, in the manner of the kernel's xarray (lib/xarray.c).
//
// Geometry. A node at shift s covers 64 << s indices from its base; its slot i covers those whose
// bits [s, s + 6) are i. Leaves (s = 0) hold BlockRefs, interior nodes refer to the nodes one
// level down. Nine levels (root shift 48) cover the 51 bits of an index. The tree is as low as
// its highest index allows: the root uses some slot other than 0, else it is replaced by its
// child (xarray's shrink), and a map whose only block is index 0 has no node at all.
//
// Packed slots. A node's bitmap `present` says which of its 64 slots are in use, and only those
// are stored, in slot order: slot i is at rank(i), the number of used slots below i. The array
// has room for 1 << order of them and doubles, up to 64, when an insertion finds it full. So a
// node costs what it holds: a leaf of a dense file is its bitmap and 64 refs, while a block alone
// at a huge index costs a chain of one-slot nodes, not of 64-slot ones. (This is the bitmap trick
// of Bagwell's hash array mapped tries.)
//
// Full bitmaps. An interior node also keeps `full`: bit i is set when child i's whole subtree is
// data (for a leaf: all 64 slots used). next_data() skips unused slots and next_hole() full ones
// a word at a time, so a search visits at most two nodes per level, whatever the file's size.
//
// References. root_ and the slots of interior nodes hold a node's address, whose low four bits
// are free because nodes are 16-byte aligned, with the node's order in bits 0-2 and bit 3 set for
// a leaf; kept there, the order costs a leaf no header space. root_ is 0 for the empty map and
// holds a lone block at index 0 as (ref << 4) | kInlineTag.
//
// Memory. A leaf costs 8 + 4 * 2^order bytes, an interior node 24 + 8 * 2^order. A file of
// n <= 64 blocks from index 0 costs 8 + 4 * bit_ceil(n) bytes (1 block: none; 2: 16; 3: 24;
// 8: 40; 64: 264). A dense file costs 4.26 bytes per block: 4 for the ref, 8/64 for its leaf's
// bitmap, 8/64 for the reference to the leaf and 1/64 of that one level up. A block alone at
// index 2^51 - 1 costs nine one-slot nodes, 268 bytes. Slot arrays do not shrink as slots are
// erased (that would need memory, and erasing never fails); a node's memory returns when it
// empties, and the root's when the tree lowers.
//
// Failure. A set() that adds a slot may need new levels on top, one node's slot array doubled
// and a chain of one-slot nodes down to the leaf. It grows the tree taller first, which shrink()
// undoes exactly if anything later fails (the tree was as low as it could be); then it builds the
// chain detached, doubles the node that receives it, and links the chain in only when all the
// memory is in hand.

#include "fs/block_map.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace zsfs::fs {
namespace {

using EraseFn = std::function<void(uint64_t index, BlockRef ref)>;
using VisitFn = std::function<bool(uint64_t index, BlockRef ref)>;

// ---- Geometry ----------------------------------------------------------------------------------

// Each level resolves 6 bits of an index, so one 64-bit word describes all the slots of a node.
constexpr unsigned kLevelBits = 6;
constexpr unsigned kNodeSlots = 1u << kLevelBits;
// A slot array holds 1 << order slots: 1, 2, 4, ... 64.
constexpr unsigned kMaxOrder = kLevelBits;

// Sets of slots are words: bit i stands for slot i.
constexpr uint64_t kAllSlots = ~uint64_t{0};

constexpr uint64_t bit(unsigned i) {
  return uint64_t{1} << i;
}
// Slots 0 .. i-1.
constexpr uint64_t bits_below(unsigned i) {
  return bit(i) - 1;
}
// Slots i .. 63.
constexpr uint64_t bits_from(unsigned i) {
  return kAllSlots << i;
}
// Slots 0 .. i.
constexpr uint64_t bits_through(unsigned i) {
  return kAllSlots >> (63 - i);
}

unsigned lowest(uint64_t bits) {
  return static_cast<unsigned>(std::countr_zero(bits));
}
unsigned popcount(uint64_t bits) {
  return static_cast<unsigned>(std::popcount(bits));
}

// Where slot `slot` sits in a packed slot array.
unsigned rank(uint64_t present, unsigned slot) {
  return popcount(present & bits_below(slot));
}

// How many indices a node at `shift` covers.
constexpr uint64_t span(unsigned shift) {
  return uint64_t{kNodeSlots} << shift;
}

// Which slot of a node at `shift` covers index.
constexpr unsigned slot_of(uint64_t index, unsigned shift) {
  return static_cast<unsigned>((index >> shift) & (kNodeSlots - 1));
}

// The shift of the lowest root that covers index.
constexpr unsigned root_shift_for(uint64_t index) {
  const auto bits = static_cast<unsigned>(std::bit_width(index | 1));
  return (bits - 1) / kLevelBits * kLevelBits;
}

constexpr unsigned kMaxShift = root_shift_for(kMaxBlocks - 1);
constexpr unsigned kMaxLevels = kMaxShift / kLevelBits + 1;
static_assert(kMaxShift == 48 && kMaxLevels == 9);

// The slots of a node (at shift, covering indices from base) that meet [first, last). The range
// must meet the node's span.
uint64_t slots_meeting(unsigned shift, uint64_t base, uint64_t first, uint64_t last) {
  const uint64_t lo = first > base ? (first - base) >> shift : 0;
  const uint64_t hi = std::min<uint64_t>((last - 1 - base) >> shift, kNodeSlots - 1);
  return bits_from(static_cast<unsigned>(lo)) & bits_through(static_cast<unsigned>(hi));
}

// ---- Nodes -------------------------------------------------------------------------------------

// Every node starts with the bitmap of its used slots; the packed slots follow the header.
struct NodeHeader {
  uint64_t present;
};

struct Leaf : NodeHeader {
  using Slot = BlockRef;
};

struct Interior : NodeHeader {
  using Slot = uintptr_t;  // a NodeRef's word
  uint64_t full;           // bit i: child i's subtree has no hole
  unsigned shift;          // the index bits below this node's slots: 6 when children are leaves
};

template <class Node>
typename Node::Slot* slots(Node* node) {
  return reinterpret_cast<typename Node::Slot*>(node + 1);
}

template <class Node>
constexpr size_t node_bytes(unsigned order) {
  return sizeof(Node) + (sizeof(typename Node::Slot) << order);
}
static_assert(node_bytes<Leaf>(kMaxOrder) == 8 + 64 * 4, "a full leaf: its bitmap and 64 refs");
static_assert(node_bytes<Interior>(kMaxOrder) == 24 + 64 * 8);

// ---- References to nodes -----------------------------------------------------------------------

// Nodes are allocated 16-byte aligned, which frees the low four bits of their addresses.
constexpr std::align_val_t kNodeAlignment{16};
constexpr uintptr_t kOrderBits = 0x7;
constexpr uintptr_t kLeafBit = 0x8;
constexpr uintptr_t kTagBits = 0xf;
// A lone block at index 0 is kept in root_ as (ref << 4) | kInlineTag: no node has order 7.
constexpr uintptr_t kInlineTag = 0xf;
constexpr unsigned kInlineShift = 4;

class NodeRef {
 public:
  explicit NodeRef(uintptr_t word) : word_(word) {}
  NodeRef(Leaf* leaf, unsigned order)
      : word_(reinterpret_cast<uintptr_t>(leaf) | kLeafBit | order) {}
  NodeRef(Interior* node, unsigned order) : word_(reinterpret_cast<uintptr_t>(node) | order) {}

  uintptr_t word() const { return word_; }
  bool is_leaf() const { return (word_ & kLeafBit) != 0; }
  unsigned order() const { return static_cast<unsigned>(word_ & kOrderBits); }
  Leaf* leaf() const {
    ZSFS_DCHECK(is_leaf());
    return reinterpret_cast<Leaf*>(word_ & ~kTagBits);
  }
  Interior* interior() const {
    ZSFS_DCHECK(!is_leaf());
    return reinterpret_cast<Interior*>(word_ & ~kTagBits);
  }

  uint64_t present() const { return is_leaf() ? leaf()->present : interior()->present; }
  unsigned shift() const { return is_leaf() ? 0 : interior()->shift; }
  // Whether the node's whole subtree is data.
  bool full() const { return (is_leaf() ? leaf()->present : interior()->full) == kAllSlots; }

 private:
  uintptr_t word_;
};

template <class Node>
Node* as(NodeRef ref) {
  if constexpr (std::is_same_v<Node, Leaf>) {
    return ref.leaf();
  } else {
    return ref.interior();
  }
}

NodeRef child(Interior* node, unsigned slot) {
  return NodeRef{slots(node)[rank(node->present, slot)]};
}

bool is_inline(uintptr_t root) {
  return (root & kTagBits) == kInlineTag;
}
// Whether root refers to a node (rather than to nothing or to an inline block).
bool is_node(uintptr_t root) {
  return root != 0 && !is_inline(root);
}
BlockRef inline_ref(uintptr_t root) {
  return static_cast<BlockRef>(root >> kInlineShift);
}
uintptr_t make_inline(BlockRef ref) {
  return (uintptr_t{ref} << kInlineShift) | kInlineTag;
}

// ---- Node memory -------------------------------------------------------------------------------

// Takes node memory from the host after charging it to the budget, and counts it in the map's
// memory_bytes_.
class NodeAllocator {
 public:
  NodeAllocator(MemoryBudget& budget, uint32_t& memory_bytes)
      : budget_(budget), memory_bytes_(memory_bytes) {}

  // A node with room for 1 << order slots, its contents uninitialised.
  template <class Node>
  Result<Node*> allocate(unsigned order) {
    const size_t bytes = node_bytes<Node>(order);
    // One map's nodes are counted in 32 bits (see block_map.h): 4 GiB of them, enough for a
    // terabyte-sized file, is as far as one map grows.
    if (bytes > UINT32_MAX - memory_bytes_) return Errno{ENOSPC};
    if (!budget_.try_charge(bytes)) return Errno{ENOSPC};
    void* memory = nullptr;
    try {
      memory = ::operator new(bytes, kNodeAlignment);
    } catch (const std::bad_alloc&) {
      budget_.uncharge(bytes);
      return Errno{ENOMEM};
    }
    memory_bytes_ += static_cast<uint32_t>(bytes);
    return static_cast<Node*>(memory);
  }

  template <class Node>
  void release(Node* node, unsigned order) {
    const size_t bytes = node_bytes<Node>(order);
    ::operator delete(node, kNodeAlignment);
    memory_bytes_ -= static_cast<uint32_t>(bytes);
    budget_.uncharge(bytes);
  }

  void release(NodeRef node) {
    if (node.is_leaf()) {
      release(node.leaf(), node.order());
    } else {
      release(node.interior(), node.order());
    }
  }

  // Frees a subtree that was never linked into the tree.
  void release_subtree(NodeRef node) {
    if (!node.is_leaf()) {
      Interior* interior = node.interior();
      const unsigned used = popcount(interior->present);
      for (unsigned i = 0; i < used; ++i) {
        release_subtree(NodeRef{slots(interior)[i]});
      }
    }
    release(node);
  }

 private:
  MemoryBudget& budget_;
  uint32_t& memory_bytes_;
};

// ---- Editing a node's slots --------------------------------------------------------------------

// Makes `value` the contents of the unused slot `slot` of the node *ref refers to. A node with no
// room left is first copied into an array twice the size, and *ref follows it. Fails, changing
// nothing, only if that copy cannot be had.
template <class Node>
Status insert_slot(uintptr_t* ref, unsigned slot, typename Node::Slot value, NodeAllocator& nodes) {
  const NodeRef old{*ref};
  Node* node = as<Node>(old);
  unsigned order = old.order();
  const unsigned used = popcount(node->present);
  if (used == (1u << order)) {
    Result<Node*> larger = nodes.allocate<Node>(order + 1);
    if (!larger.ok()) return Errno{larger.error()};
    std::memcpy(*larger, node, node_bytes<Node>(order));
    nodes.release(node, order);
    node = *larger;
    ++order;
  }
  typename Node::Slot* array = slots(node);
  const unsigned at = rank(node->present, slot);
  std::memmove(array + at + 1, array + at, (used - at) * sizeof(*array));
  array[at] = value;
  node->present |= bit(slot);
  *ref = NodeRef(node, order).word();
  return ok_status();
}

// Removes the used slots `doomed` (not none) from node, keeping the others packed.
template <class Node>
void remove_slots(Node* node, uint64_t doomed) {
  ZSFS_DCHECK(doomed != 0 && (doomed & ~node->present) == 0);
  typename Node::Slot* array = slots(node);
  const unsigned first = lowest(doomed);
  unsigned to = rank(node->present, first);  // the slots below the first doomed one stay put
  unsigned from = to;
  for (uint64_t rest = node->present & bits_from(first); rest != 0; rest &= rest - 1, ++from) {
    if ((doomed & bit(lowest(rest))) == 0) array[to++] = array[from];
  }
  node->present &= ~doomed;
  if constexpr (std::is_same_v<Node, Interior>) node->full &= ~doomed;
}

// ---- Searching ---------------------------------------------------------------------------------

// index's slot in the tree under `node` (a root), or null when index is a hole.
BlockRef* find_slot(NodeRef node, uint64_t index) {
  unsigned shift = node.shift();
  if ((index >> shift) >= kNodeSlots) return nullptr;  // past the root's span
  for (;; shift -= kLevelBits) {
    const unsigned slot = slot_of(index, shift);
    if (node.is_leaf()) {
      Leaf* leaf = node.leaf();
      if ((leaf->present & bit(slot)) == 0) return nullptr;
      return &slots(leaf)[rank(leaf->present, slot)];
    }
    Interior* interior = node.interior();
    if ((interior->present & bit(slot)) == 0) return nullptr;
    node = child(interior, slot);
  }
}

// The first index >= from that holds a ref in the subtree at node (at shift, covering indices
// from base, from among them). Only the child that holds `from` can come back empty-handed: every
// later used slot leads to data at its first index.
std::optional<uint64_t> find_data(NodeRef node, unsigned shift, uint64_t base, uint64_t from) {
  const auto start = static_cast<unsigned>((from - base) >> shift);
  if (node.is_leaf()) {
    const uint64_t used = node.leaf()->present & bits_from(start);
    if (used == 0) return std::nullopt;
    return base + lowest(used);
  }
  Interior* interior = node.interior();
  for (uint64_t used = interior->present & bits_from(start); used != 0; used &= used - 1) {
    const unsigned slot = lowest(used);
    const uint64_t child_base = base + (uint64_t{slot} << shift);
    if (auto found = find_data(child(interior, slot), shift - kLevelBits, child_base,
                               std::max(from, child_base))) {
      return found;
    }
  }
  return std::nullopt;
}

// The first hole at or after from in the subtree at node, or the end of its span if it has none.
// As in find_data(), only the child that holds `from` can fail: a later child that is not full
// has a hole.
uint64_t find_hole(NodeRef node, unsigned shift, uint64_t base, uint64_t from) {
  const auto start = static_cast<unsigned>((from - base) >> shift);
  if (node.is_leaf()) {
    const uint64_t holes = ~node.leaf()->present & bits_from(start);
    return holes != 0 ? base + lowest(holes) : base + span(0);
  }
  Interior* interior = node.interior();
  for (uint64_t open = ~interior->full & bits_from(start); open != 0; open &= open - 1) {
    const unsigned slot = lowest(open);
    const uint64_t child_base = base + (uint64_t{slot} << shift);
    const uint64_t child_from = std::max(from, child_base);
    if ((interior->present & bit(slot)) == 0) return child_from;  // an unused slot is all hole
    const uint64_t hole =
        find_hole(child(interior, slot), shift - kLevelBits, child_base, child_from);
    if (hole < child_base + span(shift - kLevelBits)) return hole;
  }
  return base + span(shift);
}

// Calls fn for the refs of [first, last) in the subtree at node, which the range meets; returns
// false as soon as fn does.
bool visit(NodeRef node, unsigned shift, uint64_t base, uint64_t first, uint64_t last,
           const VisitFn& fn) {
  const uint64_t present = node.present();
  const uint64_t wanted = present & slots_meeting(shift, base, first, last);
  if (wanted == 0) return true;
  unsigned at = rank(present, lowest(wanted));  // the wanted slots are consecutive in the array
  for (uint64_t rest = wanted; rest != 0; rest &= rest - 1, ++at) {
    const uint64_t index = base + (uint64_t{lowest(rest)} << shift);
    const bool more = node.is_leaf() ? fn(index, slots(node.leaf())[at])
                                     : visit(NodeRef{slots(node.interior())[at]},
                                             shift - kLevelBits, index, first, last, fn);
    if (!more) return false;
  }
  return true;
}

// ---- Adding ------------------------------------------------------------------------------------

// Makes the tree under root tall enough to hold index: a lone inline block becomes a leaf, and
// levels whose slot 0 holds the old root go on top. The node that will receive index's slot is
// given room for two. On failure the levels added so far stay, for shrink() to take off.
Status grow(uintptr_t& root, uint64_t index, NodeAllocator& nodes) {
  if (root == 0) return ok_status();  // insert() builds the whole path
  const unsigned target = root_shift_for(index);
  if (is_inline(root)) {
    const unsigned order = target == 0 ? 1 : 0;
    Result<Leaf*> leaf = nodes.allocate<Leaf>(order);
    if (!leaf.ok()) return Errno{leaf.error()};
    (*leaf)->present = bit(0);
    slots(*leaf)[0] = inline_ref(root);
    root = NodeRef(*leaf, order).word();
  }
  for (unsigned shift = NodeRef{root}.shift() + kLevelBits; shift <= target; shift += kLevelBits) {
    const NodeRef old_root{root};
    const unsigned order = shift == target ? 1 : 0;
    Result<Interior*> node = nodes.allocate<Interior>(order);
    if (!node.ok()) return Errno{node.error()};
    Interior* top = *node;
    top->present = bit(0);
    top->full = old_root.full() ? bit(0) : 0;
    top->shift = shift;
    slots(top)[0] = old_root.word();
    root = NodeRef(top, order).word();
  }
  return ok_status();
}

// A detached chain of one-slot nodes from a node at top_shift down to a leaf holding ref at
// index. None of them is full.
Result<NodeRef> build_chain(uint64_t index, BlockRef ref, unsigned top_shift,
                            NodeAllocator& nodes) {
  Result<Leaf*> leaf = nodes.allocate<Leaf>(0);
  if (!leaf.ok()) return Errno{leaf.error()};
  (*leaf)->present = bit(slot_of(index, 0));
  slots(*leaf)[0] = ref;
  NodeRef chain(*leaf, 0);
  for (unsigned shift = kLevelBits; shift <= top_shift; shift += kLevelBits) {
    Result<Interior*> node = nodes.allocate<Interior>(0);
    if (!node.ok()) {
      nodes.release_subtree(chain);
      return Errno{node.error()};
    }
    Interior* parent = *node;
    parent->present = bit(slot_of(index, shift));
    parent->full = 0;
    parent->shift = shift;
    slots(parent)[0] = chain.word();
    chain = NodeRef(parent, 0);
  }
  return chain;
}

// Stores ref at index, a hole within the tree's span: finds the lowest node on index's path,
// builds what is missing below it as a detached chain, then makes room in that node and links the
// chain in. On failure nothing has changed.
Status insert(uintptr_t& root, uint64_t index, BlockRef ref, NodeAllocator& nodes) {
  if (root == 0) {
    Result<NodeRef> chain = build_chain(index, ref, root_shift_for(index), nodes);
    if (!chain.ok()) return Errno{chain.error()};
    root = chain->word();
    return ok_status();
  }
  // path[d] is the word that refers to the node at depth d: root, then a slot of its parent.
  uintptr_t* path[kMaxLevels];
  unsigned depth = 0;
  path[0] = &root;
  NodeRef node{root};
  unsigned shift = node.shift();
  while (!node.is_leaf()) {
    Interior* interior = node.interior();
    const unsigned slot = slot_of(index, shift);
    if ((interior->present & bit(slot)) == 0) break;
    path[++depth] = &slots(interior)[rank(interior->present, slot)];
    node = NodeRef{*path[depth]};
    shift -= kLevelBits;
  }
  const unsigned slot = slot_of(index, shift);
  if (!node.is_leaf()) {
    // The node gains a child that is not full, so no full bit changes.
    Result<NodeRef> chain = build_chain(index, ref, shift - kLevelBits, nodes);
    if (!chain.ok()) return Errno{chain.error()};
    Status linked = insert_slot<Interior>(path[depth], slot, chain->word(), nodes);
    if (!linked.ok()) nodes.release_subtree(*chain);
    return linked;
  }
  ZSFS_TRY_STATUS(insert_slot<Leaf>(path[depth], slot, ref, nodes));
  // A leaf that gained its 64th ref is full, and so may be its ancestors.
  for (unsigned d = depth; d > 0 && NodeRef{*path[d]}.full(); --d) {
    Interior* parent = NodeRef{*path[d - 1]}.interior();
    parent->full |= bit(slot_of(index, parent->shift));
  }
  return ok_status();
}

// ---- Removing ----------------------------------------------------------------------------------

// Lowers the tree while its root uses only slot 0: the child in it becomes the root, and a leaf
// holding only index 0 gives way to an inline block.
void shrink(uintptr_t& root, NodeAllocator& nodes) {
  while (is_node(root)) {
    const NodeRef node{root};
    if (node.present() != bit(0)) return;
    if (node.is_leaf()) {
      root = make_inline(slots(node.leaf())[0]);
    } else {
      root = slots(node.interior())[0];
    }
    nodes.release(node);
  }
}

// Erases [first, last) from subtrees, reporting each ref it removes in index order and freeing
// the nodes that empty. Visits only the nodes that hold something in the range.
class RangeEraser {
 public:
  RangeEraser(uint64_t first, uint64_t last, const EraseFn& on_erased, NodeAllocator& nodes)
      : first_(first), last_(last), on_erased_(on_erased), nodes_(nodes) {}

  // Erases the range from the subtree at node, which the range meets. Returns whether the node
  // emptied; its caller then frees it.
  bool erase(NodeRef node, unsigned shift, uint64_t base) {
    const uint64_t present = node.present();
    const uint64_t met = present & slots_meeting(shift, base, first_, last_);
    if (met == 0) return false;
    if (node.is_leaf()) {
      Leaf* leaf = node.leaf();
      if (on_erased_) {
        unsigned at = rank(present, lowest(met));
        for (uint64_t rest = met; rest != 0; rest &= rest - 1, ++at) {
          on_erased_(base + lowest(rest), slots(leaf)[at]);
        }
      }
      erased_ += popcount(met);
      remove_slots(leaf, met);
      return leaf->present == 0;
    }
    Interior* interior = node.interior();
    uint64_t emptied = 0;
    unsigned at = rank(present, lowest(met));
    for (uint64_t rest = met; rest != 0; rest &= rest - 1, ++at) {
      const unsigned slot = lowest(rest);
      const NodeRef child_ref{slots(interior)[at]};
      if (erase(child_ref, shift - kLevelBits, base + (uint64_t{slot} << shift))) {
        nodes_.release(child_ref);
        emptied |= bit(slot);
      }
    }
    // A full child that the range met has lost a ref: none of the children it met is full now.
    interior->full &= ~met;
    if (emptied == 0) return false;
    remove_slots(interior, emptied);
    return interior->present == 0;
  }

  uint64_t erased() const { return erased_; }

 private:
  const uint64_t first_;
  const uint64_t last_;
  const EraseFn& on_erased_;
  NodeAllocator& nodes_;
  uint64_t erased_ = 0;
};

// ---- Invariants --------------------------------------------------------------------------------

#define BLOCK_MAP_CHECK(cond, what) ZSFS_CHECK_MSG(cond, "BlockMap: " what)

struct Census {
  uint64_t refs = 0;
  uint64_t bytes = 0;
};

// Checks the subtree at node (at shift, covering indices from base); returns whether it is full.
bool check_subtree(NodeRef node, unsigned shift, uint64_t base, Census& census) {
  BLOCK_MAP_CHECK((node.word() & ~kTagBits) != 0, "null node reference");
  BLOCK_MAP_CHECK(node.order() <= kMaxOrder, "slot array order above 6");
  BLOCK_MAP_CHECK(node.is_leaf() == (shift == 0), "node kind does not match its level");
  const uint64_t present = node.present();
  const unsigned used = popcount(present);
  BLOCK_MAP_CHECK(present != 0, "empty node left in the tree");
  BLOCK_MAP_CHECK(used <= (1u << node.order()), "more slots used than the node has room for");
  if (node.is_leaf()) {
    census.bytes += node_bytes<Leaf>(node.order());
    census.refs += used;
    const BlockRef* refs = slots(node.leaf());
    for (unsigned i = 0; i < used; ++i) {
      BLOCK_MAP_CHECK(refs[i] != kHole, "hole in a used slot");
    }
    BLOCK_MAP_CHECK(base + (63 - static_cast<unsigned>(std::countl_zero(present))) < kMaxBlocks,
                    "block index at or past kMaxBlocks");
    return present == kAllSlots;
  }
  Interior* interior = node.interior();
  census.bytes += node_bytes<Interior>(node.order());
  BLOCK_MAP_CHECK(interior->shift == shift, "interior node's shift does not match its depth");
  BLOCK_MAP_CHECK((interior->full & ~present) == 0, "full bit set for an unused slot");
  unsigned at = 0;
  for (uint64_t rest = present; rest != 0; rest &= rest - 1, ++at) {
    const unsigned slot = lowest(rest);
    const bool child_full = check_subtree(NodeRef{slots(interior)[at]}, shift - kLevelBits,
                                          base + (uint64_t{slot} << shift), census);
    BLOCK_MAP_CHECK(child_full == ((interior->full & bit(slot)) != 0),
                    "full bitmap disagrees with a child");
  }
  return interior->full == kAllSlots;
}

}  // namespace

// ---- BlockMap ----------------------------------------------------------------------------------

BlockMap::~BlockMap() {
  ZSFS_CHECK_MSG(empty(), "BlockMap destroyed while it holds blocks");
}

BlockMap::BlockMap(BlockMap&& other) noexcept
    : root_(std::exchange(other.root_, 0)),
      count_(std::exchange(other.count_, 0)),
      memory_bytes_(std::exchange(other.memory_bytes_, 0)) {}

BlockMap& BlockMap::operator=(BlockMap&& other) noexcept {
  if (this != &other) {
    ZSFS_CHECK_MSG(empty(), "BlockMap overwritten while it holds blocks");
    root_ = std::exchange(other.root_, 0);
    count_ = std::exchange(other.count_, 0);
    memory_bytes_ = std::exchange(other.memory_bytes_, 0);
  }
  return *this;
}

BlockRef BlockMap::get(uint64_t index) const {
  if (root_ == 0) return kHole;
  if (is_inline(root_)) return index == 0 ? inline_ref(root_) : kHole;
  const BlockRef* slot = find_slot(NodeRef{root_}, index);
  return slot != nullptr ? *slot : kHole;
}

Result<BlockRef> BlockMap::set(uint64_t index, BlockRef ref, MemoryBudget& budget) {
  ZSFS_CHECK_MSG(index < kMaxBlocks, "BlockMap::set: block index out of range");
  ZSFS_CHECK_MSG(ref != kHole, "BlockMap::set: holes are made by erase()");
  if (is_node(root_)) {
    if (BlockRef* slot = find_slot(NodeRef{root_}, index)) return std::exchange(*slot, ref);
  } else if (index == 0) {  // a lone block at 0 needs no node
    const BlockRef old = root_ == 0 ? kHole : inline_ref(root_);
    root_ = make_inline(ref);
    count_ = 1;
    return old;
  }
  if (count_ == UINT32_MAX) return Errno{ENOSPC};  // see block_map.h
  NodeAllocator nodes(budget, memory_bytes_);
  Status status = grow(root_, index, nodes);
  if (status.ok()) status = insert(root_, index, ref, nodes);
  if (!status.ok()) {
    shrink(root_, nodes);  // takes off what grow() added: the tree was as low as it could be
    return Errno{status.error()};
  }
  ++count_;
  return kHole;
}

BlockRef BlockMap::erase(uint64_t index, MemoryBudget& budget) {
  BlockRef old = kHole;
  if (index < kMaxBlocks) {
    erase_range(index, index + 1, budget, [&old](uint64_t, BlockRef ref) { old = ref; });
  }
  return old;
}

void BlockMap::erase_range(uint64_t first, uint64_t last, MemoryBudget& budget,
                           const EraseFn& on_erased) {
  last = std::min(last, kMaxBlocks);
  if (first >= last || root_ == 0) return;
  if (is_inline(root_)) {
    if (first == 0) {
      const BlockRef ref = inline_ref(root_);
      root_ = 0;
      count_ = 0;
      if (on_erased) on_erased(0, ref);
    }
    return;
  }
  const NodeRef root{root_};
  const unsigned shift = root.shift();
  if (first >= span(shift)) return;
  NodeAllocator nodes(budget, memory_bytes_);
  RangeEraser eraser(first, last, on_erased, nodes);
  if (eraser.erase(root, shift, 0)) {
    nodes.release(root);
    root_ = 0;
  }
  count_ -= static_cast<uint32_t>(eraser.erased());  // at most count_
  shrink(root_, nodes);
}

void BlockMap::for_each(uint64_t first, uint64_t last, const VisitFn& fn) const {
  last = std::min(last, kMaxBlocks);
  if (first >= last || root_ == 0) return;
  if (is_inline(root_)) {
    if (first == 0) fn(0, inline_ref(root_));
    return;
  }
  const NodeRef root{root_};
  const unsigned shift = root.shift();
  if (first >= span(shift)) return;
  visit(root, shift, 0, first, last, fn);
}

std::optional<uint64_t> BlockMap::next_data(uint64_t from) const {
  if (root_ == 0 || from >= kMaxBlocks) return std::nullopt;
  if (is_inline(root_)) return from == 0 ? std::optional<uint64_t>(0) : std::nullopt;
  const NodeRef root{root_};
  const unsigned shift = root.shift();
  if (from >= span(shift)) return std::nullopt;
  return find_data(root, shift, 0, from);
}

uint64_t BlockMap::next_hole(uint64_t from) const {
  if (root_ == 0 || from >= kMaxBlocks) return from;
  if (is_inline(root_)) return from == 0 ? 1 : from;
  const NodeRef root{root_};
  const unsigned shift = root.shift();
  if (from >= span(shift)) return from;
  return find_hole(root, shift, 0, from);
}

void BlockMap::check_invariants() const {
  if (root_ == 0) {
    BLOCK_MAP_CHECK(count_ == 0, "empty tree but count() is not 0");
    BLOCK_MAP_CHECK(memory_bytes_ == 0, "empty tree but memory_bytes() is not 0");
    return;
  }
  if (is_inline(root_)) {
    BLOCK_MAP_CHECK((root_ >> kInlineShift) <= UINT32_MAX, "inline root holds more than a ref");
    BLOCK_MAP_CHECK(inline_ref(root_) != kHole, "inline root holds a hole");
    BLOCK_MAP_CHECK(count_ == 1, "inline root but count() is not 1");
    BLOCK_MAP_CHECK(memory_bytes_ == 0, "inline root but memory_bytes() is not 0");
    return;
  }
  const NodeRef root{root_};
  const unsigned shift = root.shift();
  BLOCK_MAP_CHECK(shift % kLevelBits == 0 && shift <= kMaxShift, "root shift out of range");
  Census census;
  check_subtree(root, shift, 0, census);
  BLOCK_MAP_CHECK((root.present() & ~bit(0)) != 0,
                  "tree taller than needed: root uses slot 0 only");
  BLOCK_MAP_CHECK(census.refs == count_, "count() differs from the refs in the tree");
  BLOCK_MAP_CHECK(census.bytes == memory_bytes_, "memory_bytes() differs from the nodes' sizes");
}

}  // namespace zsfs::fs
