/*
 * General, slot, token and session functions: forwarded unchanged, except
 * that C_GetTokenInfo gets `token-flags`, and session open/close and
 * C_Finalize keep the shim's per-session and per-handle state in step.
 * Session handles and slot ids are the real module's own.
 */
#include "fwd.h"

static CK_RV shim_C_Initialize(CK_VOID_PTR args)
{
    SHIM_BEGIN(C_Initialize);
    rv = R->C_Initialize(args);
    SHIM_RETURN(C_Initialize);
}

static CK_RV shim_C_Finalize(CK_VOID_PTR reserved)
{
    SHIM_BEGIN(C_Finalize);
    rv = R->C_Finalize(reserved);
    if (rv == CKR_OK) { /* every handle and session is dead now */
        handles_reset();
        sessions_reset();
    }
    SHIM_RETURN(C_Finalize);
}

static CK_RV shim_C_GetInfo(CK_INFO_PTR info)
{
    SHIM_BEGIN(C_GetInfo);
    rv = R->C_GetInfo(info);
    if (rv == CKR_OK && info)
        faults_nul_pad_module(info);
    SHIM_RETURN(C_GetInfo);
}

static CK_RV shim_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    SHIM_BEGIN(C_GetSlotList);
    rv = R->C_GetSlotList(present, list, count);
    /* `overlong`: more slots than there was room for. */
    if (rv == CKR_OK && list && count && control_overlong(SHIM_C_GetSlotList))
        *count += 8;
    SHIM_RETURN(C_GetSlotList);
}

static CK_RV shim_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    SHIM_BEGIN(C_GetSlotInfo);
    rv = R->C_GetSlotInfo(slot, info);
    if (rv == CKR_OK && info)
        faults_nul_pad_slot(info);
    SHIM_RETURN(C_GetSlotInfo);
}

static CK_RV shim_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    SHIM_BEGIN(C_GetTokenInfo);
    rv = R->C_GetTokenInfo(slot, info);
    if (rv == CKR_OK && info) {
        faults_apply_token_flags(info);
        faults_nul_pad_token(info);
    }
    SHIM_RETURN(C_GetTokenInfo);
}

static CK_RV shim_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list,
                                     CK_ULONG_PTR count)
{
    SHIM_BEGIN(C_GetMechanismList);
    rv = R->C_GetMechanismList(slot, list, count);
    SHIM_RETURN(C_GetMechanismList);
}

static CK_RV shim_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                                     CK_MECHANISM_INFO_PTR info)
{
    SHIM_BEGIN(C_GetMechanismInfo);
    rv = R->C_GetMechanismInfo(slot, type, info);
    SHIM_RETURN(C_GetMechanismInfo);
}

static CK_RV shim_C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                              CK_UTF8CHAR_PTR label)
{
    SHIM_BEGIN(C_InitToken);
    rv = R->C_InitToken(slot, pin, pin_len, label);
    SHIM_RETURN(C_InitToken);
}

static CK_RV shim_C_InitPIN(CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    SHIM_BEGIN(C_InitPIN);
    rv = R->C_InitPIN(s, pin, pin_len);
    SHIM_RETURN(C_InitPIN);
}

static CK_RV shim_C_SetPIN(CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
                           CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
    SHIM_BEGIN(C_SetPIN);
    rv = R->C_SetPIN(s, old_pin, old_len, new_pin, new_len);
    SHIM_RETURN(C_SetPIN);
}

static CK_RV shim_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                                CK_SESSION_HANDLE_PTR session)
{
    SHIM_BEGIN(C_OpenSession);
    rv = R->C_OpenSession(slot, flags, app, notify, session);
    if (rv == CKR_OK && session)
        sessions_opened(*session, slot);
    SHIM_RETURN(C_OpenSession);
}

static CK_RV shim_C_CloseSession(CK_SESSION_HANDLE s)
{
    SHIM_BEGIN(C_CloseSession);
    rv = R->C_CloseSession(s);
    if (rv == CKR_OK || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED)
        sessions_closed(s);
    SHIM_RETURN(C_CloseSession);
}

static CK_RV shim_C_CloseAllSessions(CK_SLOT_ID slot)
{
    SHIM_BEGIN(C_CloseAllSessions);
    rv = R->C_CloseAllSessions(slot);
    if (rv == CKR_OK)
        sessions_closed_all(slot);
    SHIM_RETURN(C_CloseAllSessions);
}

static CK_RV shim_C_GetSessionInfo(CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info)
{
    SHIM_BEGIN(C_GetSessionInfo);
    rv = R->C_GetSessionInfo(s, info);
    SHIM_RETURN(C_GetSessionInfo);
}

static CK_RV shim_C_GetOperationState(CK_SESSION_HANDLE s, CK_BYTE_PTR state, CK_ULONG_PTR len)
{
    SHIM_BEGIN(C_GetOperationState);
    rv = R->C_GetOperationState(s, state, len);
    SHIM_RETURN(C_GetOperationState);
}

static CK_RV shim_C_SetOperationState(CK_SESSION_HANDLE s, CK_BYTE_PTR state, CK_ULONG len,
                                      CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key)
{
    SHIM_BEGIN(C_SetOperationState);
    CK_OBJECT_HANDLE keys[2] = {enc_key, auth_key};
    rv = R->C_SetOperationState(s, state, len, objects_in(s, enc_key), objects_in(s, auth_key));
    objects_after(s, rv, keys, 2);
    SHIM_RETURN(C_SetOperationState);
}

static CK_RV shim_C_Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                          CK_ULONG pin_len)
{
    SHIM_BEGIN(C_Login);
    rv = R->C_Login(s, user, pin, pin_len);
    SHIM_RETURN(C_Login);
}

static CK_RV shim_C_Logout(CK_SESSION_HANDLE s)
{
    SHIM_BEGIN(C_Logout);
    rv = R->C_Logout(s);
    SHIM_RETURN(C_Logout);
}

static CK_RV shim_C_SeedRandom(CK_SESSION_HANDLE s, CK_BYTE_PTR seed, CK_ULONG len)
{
    SHIM_BEGIN(C_SeedRandom);
    rv = R->C_SeedRandom(s, seed, len);
    SHIM_RETURN(C_SeedRandom);
}

static CK_RV shim_C_GenerateRandom(CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG len)
{
    SHIM_BEGIN(C_GenerateRandom);
    rv = R->C_GenerateRandom(s, out, len);
    SHIM_RETURN(C_GenerateRandom);
}

static CK_RV shim_C_GetFunctionStatus(CK_SESSION_HANDLE s)
{
    SHIM_BEGIN(C_GetFunctionStatus);
    rv = R->C_GetFunctionStatus(s);
    SHIM_RETURN(C_GetFunctionStatus);
}

static CK_RV shim_C_CancelFunction(CK_SESSION_HANDLE s)
{
    SHIM_BEGIN(C_CancelFunction);
    rv = R->C_CancelFunction(s);
    SHIM_RETURN(C_CancelFunction);
}

static CK_RV shim_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
    SHIM_BEGIN(C_WaitForSlotEvent);
    rv = R->C_WaitForSlotEvent(flags, slot, reserved);
    SHIM_RETURN(C_WaitForSlotEvent);
}

void forward_fill(CK_FUNCTION_LIST *l)
{
    l->C_Initialize = shim_C_Initialize;
    l->C_Finalize = shim_C_Finalize;
    l->C_GetInfo = shim_C_GetInfo;
    l->C_GetSlotList = shim_C_GetSlotList;
    l->C_GetSlotInfo = shim_C_GetSlotInfo;
    l->C_GetTokenInfo = shim_C_GetTokenInfo;
    l->C_GetMechanismList = shim_C_GetMechanismList;
    l->C_GetMechanismInfo = shim_C_GetMechanismInfo;
    l->C_InitToken = shim_C_InitToken;
    l->C_InitPIN = shim_C_InitPIN;
    l->C_SetPIN = shim_C_SetPIN;
    l->C_OpenSession = shim_C_OpenSession;
    l->C_CloseSession = shim_C_CloseSession;
    l->C_CloseAllSessions = shim_C_CloseAllSessions;
    l->C_GetSessionInfo = shim_C_GetSessionInfo;
    l->C_GetOperationState = shim_C_GetOperationState;
    l->C_SetOperationState = shim_C_SetOperationState;
    l->C_Login = shim_C_Login;
    l->C_Logout = shim_C_Logout;
    l->C_SeedRandom = shim_C_SeedRandom;
    l->C_GenerateRandom = shim_C_GenerateRandom;
    l->C_GetFunctionStatus = shim_C_GetFunctionStatus;
    l->C_CancelFunction = shim_C_CancelFunction;
    l->C_WaitForSlotEvent = shim_C_WaitForSlotEvent;
}
