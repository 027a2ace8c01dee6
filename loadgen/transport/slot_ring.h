// A first-in first-out ring with a place per slot, for what a transport keeps
// about its slots (requests waiting for a connection, completions to hand
// over): each slot is in it at most once, so it never grows after it is made.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace aurigraph::loadgen {

template <typename T>
struct SlotRing {
  explicit SlotRing(size_t capacity) : items(std::max<size_t>(capacity, 1)) {}
  bool empty() const { return size == 0; }
  void Push(T v) {
    items[(head + size) % items.size()] = v;
    ++size;
  }
  void PushFront(T v) {
    head = (head + items.size() - 1) % items.size();
    items[head] = v;
    ++size;
  }
  T Pop() {
    const T v = items[head];
    head = (head + 1) % items.size();
    --size;
    return v;
  }
  std::vector<T> items;
  size_t head = 0, size = 0;
};

}  // namespace aurigraph::loadgen
