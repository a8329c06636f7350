"""Log-in for API clients: `POST /session` sets the signed session cookie the pages use too."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from fundguard.api.v1.deps import Svc, Who
from fundguard.api.v1.schemas import LoginIn, UserOut
from fundguard.workspace import Principal, log_in, log_out

router = APIRouter(tags=["session"])


def _out(who: Principal) -> UserOut:
    return UserOut(username=who.username, display_name=who.display_name, role=who.role.value,
                   fixmedins_code=who.fixmedins_code, admdvs=who.admdvs)


@router.post("/session", response_model=UserOut, summary="登录 (设置会话 Cookie)")
def create_session(body: LoginIn, request: Request, svc: Svc) -> UserOut:
    user = svc.users.authenticate(body.username, body.password)
    if user is None:
        raise HTTPException(401, "用户名或密码错误，或账户已锁定")
    log_in(request.session, user)
    svc.users.log_access(user.username, "login", "api")
    return _out(Principal.of(user))


@router.get("/session", response_model=UserOut, summary="当前用户")
def read_session(who: Who) -> UserOut:
    return _out(who)


@router.delete("/session", status_code=204, summary="退出登录")
def delete_session(request: Request, svc: Svc) -> Response:
    log_out(request.session, svc)
    return Response(status_code=204)
