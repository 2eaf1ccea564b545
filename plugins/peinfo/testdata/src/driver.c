/* A kernel driver for peinfo's tests: it imports from ntoskrnl.exe (what
   makes pefile's is_driver true) and has a PAGE section. */
#include <ntdef.h>

ULONG DbgPrint(PCSTR format, ...);

__attribute__((section("PAGE"))) long paged_work(long x) { return x * 3; }

long DriverEntry(void *driver, void *registry) {
	(void)driver; (void)registry;
	DbgPrint("peinfo test driver %ld\n", paged_work(14));
	return 0;
}
