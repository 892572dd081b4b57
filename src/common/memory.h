// Returning freed memory to the operating system.
//
// glibc's allocator keeps freed memory in its arenas for reuse, so resident
// memory stays at its high-water mark after a burst (a version loaded, a
// retention pass through the store). Vigil calls this after such bursts,
// which are rare (once per unload, once per retention pass), so that
// resident memory comes back to what the server holds.
//
// Thread-safety: thread-safe.
#ifndef VIGIL_COMMON_MEMORY_H_
#define VIGIL_COMMON_MEMORY_H_

namespace vigil {

// Gives the free memory at the top of the heap and the free pages inside
// every arena back to the system (glibc malloc_trim); a no-op with another
// C library.
void ReturnFreeMemory();

}  // namespace vigil

#endif  // VIGIL_COMMON_MEMORY_H_
