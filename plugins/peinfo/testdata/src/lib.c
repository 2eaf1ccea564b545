/* A DLL for peinfo's tests: named exports, an export by ordinal only and a
   forwarder (see lib.def). */
#include <windows.h>

__declspec(dllexport) int peinfo_add(int a, int b) { return a + b; }
__declspec(dllexport) int peinfo_sub(int a, int b) { return a - b; }
__declspec(dllexport) int peinfo_data = 42;
int peinfo_hidden(void) { return 7; }

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
	(void)instance; (void)reason; (void)reserved;
	return TRUE;
}
