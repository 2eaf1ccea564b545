/* A Windows console program for peinfo's tests: TLS callbacks, imports by
   name and by ordinal (ws2_32.dll, which pefile names, and a DLL it does
   not), and resources (see app.rc). Built with x86_64-w64-mingw32-gcc; it
   is parsed, never run. */
#include <windows.h>

int __declspec(dllimport) peinfo_by_ordinal(void);

static void NTAPI on_tls(PVOID module, DWORD reason, PVOID reserved) {
	(void)module; (void)reason; (void)reserved;
}

static void NTAPI on_tls_too(PVOID module, DWORD reason, PVOID reserved) {
	(void)module; (void)reason; (void)reserved;
}

/* mingw's CRT runs the callbacks placed between .CRT$XLA and .CRT$XLZ. */
__attribute__((section(".CRT$XLB"), used)) PIMAGE_TLS_CALLBACK tls_callback = on_tls;
__attribute__((section(".CRT$XLC"), used)) PIMAGE_TLS_CALLBACK tls_callback_too = on_tls_too;

int main(void) {
	char buf[512];
	WSADATA wsa;
	GetModuleFileNameA(NULL, buf, sizeof buf);
	MessageBoxA(NULL, buf, "peinfo", MB_OK);
	return WSAStartup(0x202, &wsa) + peinfo_by_ordinal();
}
